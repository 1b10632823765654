"""Scale: the real bridge (a subprocess) watching 10, 200 or 1,000 orders, a share of them talking.

Bybit is a :class:`FakeBybit` answering every call after a realistic delay and enforcing Bybit's budget
(10006 past 10 reads a second); the session chat API is used, as on Bybit today. A fixed-interval poller
(:mod:`bench.baseline`) runs at the same time against a twin fake (its own account, same delay and budget)
that receives exactly the same messages at the same moments, so every ratio comes from one run.

Per size: a warm-up with Telegram pacing raised (``AUTO_WATCH`` watches every order, one history message
each makes its home), then one message from each talking order (they are in steady talk when measured);
*raised*: messages from the talking orders at random (Poisson) while Telegram pacing stays raised, which shows
the Bybit side alone; *real*: the same load with the bridge restarted at its default
pacing against a fake Telegram enforcing Telegram's limits; optionally *quiet*: once everything is delivered,
minutes without a message (idle CPU over the second half: the first holds the bridge's talk pace, which
lingers 30 s), then one message on each of a few quiet orders, staggered (first-message latency).

Detection latency = the store's ``seen_at`` minus Bybit's ``createDate`` (what the scheduler controls);
delivery latency = the fake Telegram receiving the post minus the moment the message was posted on Bybit.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import random
import re
import sqlite3
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bench.baseline import FixedIntervalPoller
from bench.process import RAISED_PACING, BridgeProcess, bridge_env
from bridge.sandbox import FakeBybit, FakeOrder, FakeTelegram
from bridge.sandbox.fake_bybit import BUDGET_WINDOW_SECONDS, CODE_RATE_LIMIT, WRITE_PATHS, RecordedRequest

CHAT = -1001000000002
READS_PER_SECOND = 10
WARM_UP_TIMEOUT = 1500.0  # seconds: watching 1,000 orders spends the bridge's own budget (about 10 min)
QUEUE_TIMEOUT = 600.0  # seconds: at Telegram's 20 posts a minute per group, a phase's posts may take minutes
LEAD_IN_TIMEOUT = 120.0  # seconds: the talking orders' first messages, before anything is measured
IDLE_SETTLE_SECONDS = 5.0
POLL_SECONDS = 0.5
LAG_STEP = 0.05
TOKEN = re.compile(r"msg ([a-z]+-\d{5})")
TELEGRAM_GROUP_LIMIT = 20  # posts a minute into one group
BINDING_SHARE = 0.9  # a limit used to 90 % or more binds
NO_COUNTS = "no unread counts"  # the phases with Telegram pacing raised but Bybit's hints changed
READ_IN_APP = "read in the app at once"
ORDER_API = "order chat API"
SIGNED_AT = "X-BAPI-TIMESTAMP"  # the bridge's clock (ms) when it signed a request, right after its budget let it go


@dataclass(frozen=True)
class Params:
    """What one scale run does; the defaults are ``make bench``'s."""

    delay: float = 0.15
    talk_seconds: float = 60.0
    """Seconds of steady talk in a phase (as issue 19 measured it: 60-90 s)."""
    mean_gap: float = 20.0
    """Mean seconds between two messages of one talking order (Poisson arrivals)."""
    drain_timeout: float = 150.0
    """Seconds after a phase's last message to wait for the rest to arrive; later ones count as not arrived."""
    probes: int = 10
    probe_gap: float = 3.0
    probe_timeout: float = 300.0
    poll_interval: float = 1.0
    poll_interval_max: float = 60.0  # the bridge's default
    seed: int = 2026


@dataclass(frozen=True)
class Size:
    """Watched orders, how many of them talk, and seconds of quiet before the first-message probes (0: none)."""

    orders: int
    talking: int
    quiet_seconds: float = 0.0


@dataclass
class Sent:
    """One message posted on both fakes: the bridge's copy, the baseline's copy, and when (monotonic)."""

    order_id: str
    bridge_id: str
    bridge_created: float
    twin_id: str
    twin_created: float
    at: float


@dataclass
class Phase:
    """The figures of one measured phase."""

    messages: int
    detection: list[float]
    baseline: list[float]
    delivery: list[float]
    reads_per_second: float
    baseline_reads_per_second: float
    posts_per_minute: int
    cpu_per_1000: float
    rate_limited: int
    """10006 answers to the bridge during the phase."""
    transit_spread: float
    """Seconds: the most minus the least (arrival at the fake − signing) over the bridge's requests."""
    slowest: str
    """When into the phase and where the request with the most (arrival − signing) arrived."""
    refusals: list[str]
    """Each 10006: when, where, and how the reads before it were signed and arrived."""
    loop_lag: float
    """The bench process's worst event-loop lag during the phase (seconds)."""


@dataclass
class ScaleResult:
    """Every phase of one size, and the bridge process's memory and idle CPU."""

    size: Size
    phases: dict[str, Phase] = field(default_factory=dict)
    idle_rss_mb: float = 0.0
    peak_rss_mb: float = 0.0
    idle_cpu_percent: float | None = None
    idle_reads_per_second: float = 0.0
    idle_queued: int = 0
    """Messages the bridge still held for Telegram when the idle figures began (0: it was idle)."""
    baseline_interval: float = 0.0
    rate_limited: tuple[int, int] = (0, 0)
    """10006 answers to the bridge and to the baseline over the measured phases (the warm-up has no budget)."""
    loop_lag: float = 0.0
    """The bench process's worst event-loop lag over the whole size, warm-up included (seconds)."""


class LoopLag:
    """How late this process's event loop wakes up (the fakes run here: a late loop stamps arrivals late)."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.recent = 0.0
        """The worst since :meth:`restart` (a phase's own)."""

    async def run(self) -> None:
        """Sleep in short steps until cancelled, keeping the worst oversleep."""
        while True:
            started = time.monotonic()
            await asyncio.sleep(LAG_STEP)
            lag = time.monotonic() - started - LAG_STEP
            self.worst, self.recent = max(self.worst, lag), max(self.recent, lag)

    def restart(self) -> None:
        """Start :attr:`recent` anew."""
        self.recent = 0.0


def percentile(samples: Iterable[float], share: float) -> float:
    """Nearest-rank percentile; ``inf`` for a sample that never arrived, ``nan`` for no samples."""
    ordered = sorted(samples)
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


class World:
    """The two fakes with the same orders and messages, the fake Telegram, and every message posted."""

    def __init__(self, bybit: FakeBybit, twin: FakeBybit, telegram: FakeTelegram, size: Size) -> None:
        self.bybit = bybit
        self.twin = twin
        self.telegram = telegram
        self.orders = [self._add(n) for n in range(size.orders)]
        self.sent: dict[str, Sent] = {}
        self._delivered: dict[str, float] = {}
        self._scanned = 0
        for order in self.orders:  # history: delivered in the warm-up, so every order has its home
            for fake in (bybit, twin):
                fake.post_message(order.id, f"hello, order {order.id[-4:]}")

    def _add(self, n: int) -> FakeOrder:
        order = self.bybit.add_order(counterparty_nick=f"Buyer{n:04d}", quantity=str(10 + n % 90))
        twin = self.twin.add_order(counterparty_nick=f"Buyer{n:04d}", quantity=str(10 + n % 90))
        assert twin.id == order.id
        return order

    def delivered(self) -> dict[str, float]:
        """Token → when the fake Telegram received the first post carrying it (monotonic); reads new posts only."""
        for post in self.telegram.sent[self._scanned :]:
            for token in TOKEN.findall(post.plain or ""):
                self._delivered.setdefault(token, post.time)
        self._scanned = len(self.telegram.sent)
        return self._delivered

    def post(self, order: FakeOrder, token: str) -> None:
        """The counterparty writes ``msg <token>`` in the order's chat, on both fakes at once."""
        text = f"msg {token}"
        mine, theirs = self.bybit.post_message(order.id, text), self.twin.post_message(order.id, text)
        self.sent[token] = Sent(
            order.id,
            mine["id"],
            int(mine["createDate"]) / 1000,
            theirs["id"],
            int(theirs["createDate"]) / 1000,
            time.monotonic(),
        )


def read_only(db_path: Path) -> contextlib.closing[sqlite3.Connection]:
    """A read-only connection to the bridge's database, closed after the ``with`` block."""
    return contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10))


def seen_at(db_path: Path) -> dict[str, float]:
    """Message id → when the bridge stored it (unix seconds), read from its database."""
    with read_only(db_path) as db:
        return dict(db.execute("SELECT msg_id, seen_at FROM messages").fetchall())


def watch_progress(db_path: Path) -> tuple[int, int, int]:
    """(orders watched, of them backfilled, messages delivered) in the bridge's database."""
    if not db_path.exists():
        return 0, 0, 0
    with read_only(db_path) as db:
        watched, backfilled = db.execute("SELECT count(*), coalesce(sum(backfilled), 0) FROM orders").fetchone()
        [delivered] = db.execute("SELECT count(*) FROM messages WHERE delivered_at IS NOT NULL").fetchone()
    return int(watched), int(backfilled), int(delivered)


def queued(db_path: Path) -> int:
    """Messages the bridge holds for Telegram still (seen, not yet delivered)."""
    with read_only(db_path) as db:
        [count] = db.execute("SELECT count(*) FROM messages WHERE state = 'pending'").fetchone()
    return int(count)


def transit_spread(requests: list[RecordedRequest], started: float) -> tuple[float, str]:
    """The most minus the least (arrival − signing) over signed requests (seconds; the clocks' offset cancels),
    and when into the phase and where the slowest one arrived.

    The bridge paces its reads when it signs them and Bybit counts them when they arrive: a spread above
    the bridge's budget margin can bunch paced reads into a 10006.
    """
    wall = time.time() - time.monotonic()
    transits = [(r.time + wall - int(r.headers[SIGNED_AT]) / 1000, r) for r in requests if SIGNED_AT in r.headers]
    if not transits:
        return 0.0, ""
    most, slowest = max(transits, key=lambda transit: transit[0])
    return most - min(transit for transit, _ in transits), f"+{slowest.time - started:.1f} s, {slowest.path}"


def refusals(requests: list[RecordedRequest], first: int, started: float) -> list[str]:
    """Each 10006 among ``requests[first:]`` with the admitted reads that filled the fake's window before it."""
    out = []
    for index in range(first, len(requests)):
        refused = requests[index]
        if refused.ret_code != CODE_RATE_LIMIT:
            continue
        window = [
            r
            for r in requests[:index]
            if r.path not in WRITE_PATHS
            and r.ret_code != CODE_RATE_LIMIT
            and refused.time - r.time < BUDGET_WINDOW_SECONDS
        ]
        signed = [int(r.headers[SIGNED_AT]) for r in [*window, refused]]
        arrived_ms = (refused.time - window[0].time) * 1000 if window else 0.0
        out.append(
            f"+{refused.time - started:.1f} s into the phase, {refused.path}: it and the {len(window)} reads"
            f" before it arrived within {arrived_ms:.0f} ms, signed within {max(signed) - min(signed)} ms"
        )
    return out


def busiest_minute(moments: list[float]) -> int:
    """The most events in any 60 s window."""
    ordered = sorted(moments)
    best, start = 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] > 60:
            start += 1
        best = max(best, end - start + 1)
    return best


def schedule(
    rng: random.Random, orders: list[FakeOrder], seconds: float, mean_gap: float
) -> list[tuple[float, FakeOrder]]:
    """Poisson arrivals for each order over ``seconds``: (offset, order), in time order."""
    arrivals = []
    for order in orders:
        at = rng.expovariate(1 / mean_gap)
        while at < seconds:
            arrivals.append((at, order))
            at += rng.expovariate(1 / mean_gap)
    return sorted(arrivals, key=lambda arrival: arrival[0])


class ScaleRun:
    """One size: the world, the baseline poller, the bridge processes, and the phases measured."""

    def __init__(
        self, world: World, baseline: FixedIntervalPoller, lag: LoopLag, workdir: Path, params: Params
    ) -> None:
        self.world = world
        self.baseline = baseline
        self.lag = lag
        self.workdir = workdir
        self.params = params
        self.db_path = workdir / "bridge.db"
        self.rng = random.Random(params.seed)

    def env(self, **settings: str) -> dict[str, str]:
        """The bridge's environment for this run: session API, auto-watch, the poll settings, then ``settings``."""
        defaults = {
            "BYBIT_CHAT_API": "session",
            "AUTO_WATCH": "true",
            "POLL_INTERVAL": str(self.params.poll_interval),
            "POLL_INTERVAL_MAX": str(self.params.poll_interval_max),
        }
        return bridge_env(self.world.bybit, self.world.telegram, CHAT, self.db_path, **(defaults | settings))

    async def warm_up(self, orders: int) -> None:
        """Wait until every order is watched, backfilled and its history delivered, and the baseline polls."""
        deadline = time.monotonic() + WARM_UP_TIMEOUT
        while min(await asyncio.to_thread(watch_progress, self.db_path)) < orders or self.baseline.rounds < 1:
            if time.monotonic() > deadline:
                raise TimeoutError(f"warm-up incomplete: {watch_progress(self.db_path)} of {orders}")
            await asyncio.sleep(POLL_SECONDS)

    async def talk(self, name: str, bridge: BridgeProcess, talking: list[FakeOrder]) -> Phase:
        """Messages from ``talking`` at random for ``talk_seconds``; measured until all arrived or timed out."""
        arrivals = schedule(self.rng, talking, self.params.talk_seconds, self.params.mean_gap)
        plan = [(f"{name}-{n:05d}", *arrival) for n, arrival in enumerate(arrivals)]
        return await self.measure(bridge, plan, self.params.drain_timeout)

    async def lead_in(self, bridge: BridgeProcess, talking: list[FakeOrder]) -> None:
        """One message from each talking order, delivered before anything is measured, so the phases see them in steady
        talk: a talking order whose last message is ten minutes old is a quiet order to any poller (the first message
        on a quiet order is measured apart, by :meth:`probe`)."""
        await self.measure(bridge, [(f"lead-{n:05d}", 0.0, order) for n, order in enumerate(talking)], LEAD_IN_TIMEOUT)

    async def probe(self, bridge: BridgeProcess, quiet: list[FakeOrder]) -> Phase:
        """One message on each of ``probes`` quiet orders, ``probe_gap`` seconds apart."""
        chosen = self.rng.sample(quiet, min(self.params.probes, len(quiet)))
        plan = [(f"first-{n:05d}", n * self.params.probe_gap, order) for n, order in enumerate(chosen)]
        return await self.measure(bridge, plan, self.params.probe_timeout)

    async def measure(self, bridge: BridgeProcess, plan: list[tuple[str, float, FakeOrder]], timeout: float) -> Phase:
        """Post ``plan`` ((token, offset, order) in time order), wait for it to arrive, and take the figures."""
        world = self.world
        started, cpu_before = time.monotonic(), bridge.usage().cpu_seconds
        calls_before, twin_calls_before = len(world.bybit.requests), len(world.twin.requests)
        posts_before = len(world.telegram.sent)
        self.lag.restart()
        for token, offset, order in plan:
            await asyncio.sleep(max(0.0, started + offset - time.monotonic()))
            world.post(order, token)
        tokens = [token for token, _, _ in plan]
        deadline = time.monotonic() + timeout
        while not await self.arrived(tokens) and time.monotonic() < deadline:
            await asyncio.sleep(POLL_SECONDS)
        seconds = time.monotonic() - started
        cpu = bridge.usage().cpu_seconds - cpu_before
        seen, delivered = await asyncio.to_thread(seen_at, self.db_path), world.delivered()
        sent = [world.sent[token] for token in tokens]
        reads = [r for r in world.bybit.requests[calls_before:] if r.path not in WRITE_PATHS]
        transit, slowest = transit_spread(world.bybit.requests[calls_before:], started)
        twin_reads = len(world.twin.requests) - twin_calls_before  # the baseline only reads
        return Phase(
            messages=len(sent),
            detection=[seen.get(s.bridge_id, math.inf) - s.bridge_created for s in sent],
            baseline=[self.baseline.first_seen.get(s.twin_id, math.inf) - s.twin_created for s in sent],
            delivery=[delivered.get(token, math.inf) - world.sent[token].at for token in tokens],
            reads_per_second=sum(1 for r in reads if r.ret_code != CODE_RATE_LIMIT) / seconds,
            baseline_reads_per_second=twin_reads / seconds,
            posts_per_minute=busiest_minute([p.time for p in world.telegram.sent[posts_before:] if p.chat_id == CHAT]),
            cpu_per_1000=cpu / max(1, len(sent)) * 1000,
            rate_limited=sum(1 for r in reads if r.ret_code == CODE_RATE_LIMIT),
            transit_spread=transit,
            slowest=slowest,
            refusals=refusals(world.bybit.requests, calls_before, started),
            loop_lag=self.lag.recent,
        )

    async def raised_phases(self, result: ScaleResult, talking: list[FakeOrder]) -> None:
        """The warm-up, then Telegram pacing raised: with Bybit's hints, without them, and on the order chat API."""
        bybit, twin, telegram = self.world.bybit, self.world.twin, self.world.telegram
        async with BridgeProcess(telegram, self.workdir, self.env(**RAISED_PACING), "raised") as bridge:
            await self.warm_up(result.size.orders)
            await self.lead_in(bridge, talking)
            gc.collect()  # the warm-up leaves hundreds of thousands of objects (the fakes' records): a full
            gc.freeze()  # collection over them would stall this loop and stamp the fakes' arrivals late…
            await asyncio.sleep(BUDGET_WINDOW_SECONDS)  # …as it did this one's: they arrive, uncounted
            for fake in (bybit, twin):  # from here on, measured
                fake.delay, fake.reads_per_second = self.params.delay, READS_PER_SECOND
            result.phases["raised"] = await self.talk("raised", bridge, talking)
            bybit.serve_unread_counts = False  # Bybit's hints say nothing: the counts go missing…
            result.phases[NO_COUNTS] = await self.talk("nocounts", bridge, talking)
            bybit.serve_unread_counts, bybit.read_in_app_at_once = True, True  # …or never move
            result.phases[READ_IN_APP] = await self.talk("inapp", bridge, talking)
            bybit.read_in_app_at_once = False
            result.peak_rss_mb = bridge.usage().peak_rss_kb / 1024
        await asyncio.sleep(BUDGET_WINDOW_SECONDS)  # the stopped process's last reads leave Bybit's window
        order_api = self.env(**RAISED_PACING, BYBIT_CHAT_API="order")
        async with BridgeProcess(telegram, self.workdir, order_api, "order") as bridge:
            result.phases[ORDER_API] = await self.talk("order", bridge, talking)
            result.peak_rss_mb = max(result.peak_rss_mb, bridge.usage().peak_rss_kb / 1024)

    async def real_phases(self, result: ScaleResult, talking: list[FakeOrder], quiet: list[FakeOrder]) -> None:
        """At Telegram's real limits: talk, then (if asked) quiet minutes for the idle figures and the probes."""
        size, bybit = result.size, self.world.bybit
        self.world.telegram.enforce_flood_limits = True
        gc.collect()  # (the raised phases' objects: while no bridge calls)
        gc.freeze()
        await asyncio.sleep(BUDGET_WINDOW_SECONDS)
        async with BridgeProcess(self.world.telegram, self.workdir, self.env(), "real") as bridge:
            result.phases["real"] = await self.talk("real", bridge, talking)
            if size.quiet_seconds:
                result.idle_queued = await self.delivered_all()  # one still posting is not idle
                await asyncio.sleep(size.quiet_seconds / 2)  # the talk pace lingers after the last news
                before, calls_before = bridge.usage().cpu_seconds, len(bybit.requests)
                await asyncio.sleep(size.quiet_seconds / 2)
                result.idle_cpu_percent = (bridge.usage().cpu_seconds - before) / (size.quiet_seconds / 2) * 100
                result.idle_reads_per_second = (len(bybit.requests) - calls_before) / (size.quiet_seconds / 2)
                result.phases["first"] = await self.probe(bridge, quiet)
            result.peak_rss_mb = max(result.peak_rss_mb, bridge.usage().peak_rss_kb / 1024)

    async def delivered_all(self) -> int:
        """Wait until the bridge holds nothing more for Telegram; what it still holds after ``QUEUE_TIMEOUT``."""
        deadline = time.monotonic() + QUEUE_TIMEOUT
        while (left := await asyncio.to_thread(queued, self.db_path)) and time.monotonic() < deadline:
            await asyncio.sleep(POLL_SECONDS)
        return left

    async def arrived(self, tokens: list[str]) -> bool:
        """Whether every message is in the bridge's store, seen by the baseline and in Telegram."""
        seen, delivered = await asyncio.to_thread(seen_at, self.db_path), self.world.delivered()
        return all(
            self.world.sent[token].bridge_id in seen
            and self.world.sent[token].twin_id in self.baseline.first_seen
            and token in delivered
            for token in tokens
        )


async def idle_rss_mb(workdir: Path, params: Params) -> float:
    """RSS of the bridge started with nothing to watch, once start-up settled (MB)."""
    async with FakeBybit(delay=params.delay) as bybit, FakeTelegram() as telegram:
        telegram.add_chat(CHAT, type="supergroup", title="Idle")
        env = bridge_env(bybit, telegram, CHAT, workdir / "idle.db", BYBIT_CHAT_API="session")
        async with BridgeProcess(telegram, workdir, env, "idle") as bridge:
            await asyncio.sleep(IDLE_SETTLE_SECONDS)
            return bridge.usage().rss_kb / 1024


async def run_scale(size: Size, params: Params, idle_rss: float) -> ScaleResult:
    """Warm up, then the raised (with and without hints), order-API, real and (optionally) quiet phases."""
    result = ScaleResult(size, idle_rss_mb=idle_rss)
    # The warm-up is not measured: no delay, no budget (a refused order_info would leave an order unwatched).
    bybit, twin, telegram = FakeBybit(reads_per_second=None), FakeBybit(reads_per_second=None), FakeTelegram()
    async with bybit, twin, telegram:
        telegram.add_chat(CHAT, type="supergroup", title="Bench")
        world = World(bybit, twin, telegram, size)
        baseline = FixedIntervalPoller(twin, world.orders, reads_per_second=READS_PER_SECOND)
        result.baseline_interval = baseline.interval
        lag = LoopLag()
        background = [asyncio.create_task(baseline.run()), asyncio.create_task(lag.run())]
        talking = random.Random(params.seed).sample(world.orders, size.talking)
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
            run = ScaleRun(world, baseline, lag, Path(tmp), params)
            try:
                await run.raised_phases(result, talking)
                await run.real_phases(result, talking, [order for order in world.orders if order not in talking])
            finally:
                for task in background:
                    task.cancel()
                await asyncio.gather(*background, return_exceptions=True)
        result.rate_limited = (bybit.rate_limited_answers, twin.rate_limited_answers)
        result.loop_lag = lag.worst
    return result
