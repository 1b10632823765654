"""The bridge as a real process (``python -m bridge run``): crashes, signals, logs, configuration errors, demo.

The fakes run in the test process; the bridge runs in a subprocess pointed at them through environment
variables, with its working directory in ``tmp_path`` so no ``.env`` file is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bridge.sandbox.fake_bybit import FakeBybit, FakeOrder
from bridge.sandbox.fake_telegram import FakeTelegram
from tests.harness import TEAM_CHAT

pytestmark = pytest.mark.timeout(150)  # each test starts real processes; coverage slows their start-up

_SETTING_PREFIXES = ("TELEGRAM_", "BYBIT_", "BRIDGE_", "POLL_", "BACKFILL_", "LOG_LEVEL")
BOT_TOKEN = "987654321:AAH-very-secret-token-Zq9xW2vK7pL4mN8"
API_KEY = "bybit-key-Hs83kd02LqPz"
API_SECRET = "bybit-secret-Xk29sLq0Vb7nMw4Rt6Yp1Za8"


def base_env() -> dict[str, str]:
    """The test's environment without any bridge setting, so nothing leaks in from outside."""
    return {key: value for key, value in os.environ.items() if not key.startswith(_SETTING_PREFIXES)}


def bridge_env(bybit: FakeBybit, telegram: FakeTelegram, db_path: Path, **overrides: str) -> dict[str, str]:
    env = base_env()
    env.update(
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_CHAT_ID=str(TEAM_CHAT),
        TELEGRAM_API_URL=telegram.url,
        TELEGRAM_GROUP_MESSAGES_PER_MINUTE="6000",
        TELEGRAM_CHAT_MESSAGES_PER_SECOND="100",
        TELEGRAM_GLOBAL_MESSAGES_PER_SECOND="300",
        BYBIT_API_KEY=bybit.api_key,
        BYBIT_API_SECRET=bybit.api_secret,
        BYBIT_BASE_URL=bybit.url,
        BYBIT_MEDIA_URL=bybit.url,
        BYBIT_TIMEOUT="2",
        BRIDGE_DB_PATH=str(db_path),
        POLL_INTERVAL="0.2",
        POLL_INTERVAL_MAX="1",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


class BridgeProcess:
    """One ``python -m bridge run`` subprocess; its stdout and stderr go to files in ``workdir``."""

    def __init__(self, workdir: Path, env: dict[str, str], name: str, *args: str) -> None:
        self.workdir = workdir
        self.args = args or ("run",)
        self.env = env
        self.stdout_path = workdir / f"{name}.stdout"
        self.stderr_path = workdir / f"{name}.stderr"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bridge", *self.args, cwd=self.workdir, env=self.env, stdout=out, stderr=err
            )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout)

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def kill(self) -> None:
        if self.running:
            assert self.proc is not None
            self.proc.kill()
            await self.proc.wait()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    @property
    def output(self) -> str:
        return self.stdout_path.read_text(errors="replace") + self.stderr


@pytest.fixture
async def processes() -> AsyncIterator[list[BridgeProcess]]:
    """Every process a test starts is appended here and killed at the end if still running."""
    started: list[BridgeProcess] = []
    yield started
    for process in started:
        with contextlib.suppress(ProcessLookupError):
            await process.kill()


class Bridge:
    """A test's view of the bridge process(es): start, wait until serving, talk in the team chat."""

    def __init__(self, bybit: FakeBybit, telegram: FakeTelegram, workdir: Path, started: list[BridgeProcess]) -> None:
        self.bybit = bybit
        self.telegram = telegram
        self.workdir = workdir
        self.db_path = workdir / "data" / "bridge.db"
        self._started = started
        telegram.add_chat(TEAM_CHAT, type="supergroup", title="Merchant team")

    def _polls(self) -> int:
        return sum(1 for r in self.telegram.requests if r.method.lower() == "getupdates")

    async def launch(self, **overrides: str) -> BridgeProcess:
        """Start a process (not waiting for it to serve)."""
        env = bridge_env(self.bybit, self.telegram, self.db_path, **overrides)
        process = BridgeProcess(self.workdir, env, f"bridge-{len(self._started) + 1}")
        self._started.append(process)
        await process.start()
        return process

    async def start(self, **overrides: str) -> BridgeProcess:
        """Start a process and wait until it long-polls Telegram."""
        polls = self._polls()
        process = await self.launch(**overrides)
        await self.telegram.wait_for(lambda: self._polls() > polls or not process.running, timeout=45)
        assert process.running, process.output
        return process

    async def reply_to(self, command: str) -> str:
        message_id = self.telegram.user_says(TEAM_CHAT, command)
        replies: Callable[[], list[str]] = lambda: [  # noqa: E731
            s.plain or "" for s in self.telegram.sent if s.chat_id == TEAM_CHAT and s.reply_to == message_id
        ]
        await self.telegram.wait_for(lambda: bool(replies()), timeout=10)
        return replies()[0]

    def texts(self) -> list[str]:
        return [s.plain or s.plain_caption or "" for s in self.telegram.sent if s.chat_id == TEAM_CHAT]

    def lines(self, prefix: str) -> list[str]:
        return [line for text in self.texts() for line in text.splitlines() if line.startswith(prefix)]

    async def wait_line(self, line: str, timeout: float = 15) -> None:
        await self.telegram.wait_for(lambda: line in self.lines(line), timeout=timeout)

    def db(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(self.db_path)) as db:
            return list(db.execute(query, params))

    def pending(self) -> int:
        return int(self.db("SELECT COUNT(*) FROM messages WHERE state = 'pending'")[0][0])

    def backfilled(self, order: FakeOrder) -> bool:
        """Whether the bridge has fetched the order's history (its store says so)."""
        return self.db("SELECT backfilled FROM orders WHERE order_id = ?", order.id) == [(1,)]

    async def watch(self, order: FakeOrder) -> None:
        assert "Watching" in await self.reply_to(f"/watch {order.id}")


@pytest.fixture
def bridge(
    fake_bybit: FakeBybit, fake_telegram: FakeTelegram, tmp_path: Path, processes: list[BridgeProcess]
) -> Bridge:
    return Bridge(fake_bybit, fake_telegram, tmp_path, processes)


def expect_once(bridge: Bridge, prefix: str, count: int) -> None:
    """Every message ``<prefix>01`` … arrived, in order, exactly once."""
    assert bridge.lines(prefix) == [f"{prefix}{n:02d}" for n in range(1, count + 1)]


# -- crash and restart -------------------------------------------------------------------------------


async def test_sigkill_restart_delivers_everything_once(bridge: Bridge) -> None:
    bybit = bridge.bybit
    order = bybit.add_order()
    bybit.post_message(order.id, "k 01")
    bybit.post_message(order.id, "k 02")
    first = await bridge.start()
    await bridge.watch(order)
    for n in range(3, 6):
        bybit.post_message(order.id, f"k {n:02d}")
    await bridge.wait_line("k 05")
    await bridge.telegram.wait_for(lambda: bridge.pending() == 0)  # marked delivered: outside the crash window

    first.signal(signal.SIGKILL)
    assert await first.wait(5) == -signal.SIGKILL
    for n in range(6, 11):  # while the bridge is down
        bybit.post_message(order.id, f"k {n:02d}")

    second = await bridge.start()
    await bridge.wait_line("k 10")
    bybit.post_message(order.id, "k 11")
    await bridge.wait_line("k 11")
    expect_once(bridge, "k ", 11)
    second.signal(signal.SIGTERM)
    assert await second.wait(10) == 0


@pytest.mark.parametrize("fault", ["429", pytest.param("500", marks=pytest.mark.slow)])
async def test_sigkill_with_posts_pending_delivers_them_after_restart(fault: str, bridge: Bridge) -> None:
    bybit, telegram = bridge.bybit, bridge.telegram
    order = bybit.add_order()
    bybit.post_message(order.id, "p 01")
    first = await bridge.start()
    await bridge.watch(order)
    await bridge.wait_line("p 01")
    await telegram.wait_for(lambda: bridge.pending() == 0)

    if fault == "429":
        telegram.inject_retry_after(times=1, retry_after=30)  # the bridge will wait 30 s before retrying
    else:
        telegram.inject_error(500, "Internal Server Error", times=2)  # retried after 1 s, then 2 s
    bybit.post_message(order.id, "p 02")
    await telegram.wait_for(
        lambda: any("p 02" in str(r.params) for r in telegram.requests if r.method.lower() == "sendmessage")
    )
    first.signal(signal.SIGKILL)
    await first.wait(5)
    assert bridge.pending() == 1  # recorded before it was sent, and still pending at the crash
    assert "p 02" not in bridge.lines("p ")

    bybit.post_message(order.id, "p 03")
    await bridge.start()
    await bridge.wait_line("p 03", timeout=45)
    expect_once(bridge, "p ", 3)
    await telegram.wait_for(lambda: bridge.pending() == 0)


# -- signals -----------------------------------------------------------------------------------------


async def test_sigterm_stops_cleanly_with_a_consistent_database(bridge: Bridge) -> None:
    bybit = bridge.bybit
    order = bybit.add_order()
    first = await bridge.start()
    await bridge.watch(order)
    await bridge.telegram.wait_for(lambda: bridge.backfilled(order))  # what follows is new, not history
    for n in range(1, 31):
        bybit.post_message(order.id, f"t {n:02d}")
    await bridge.telegram.wait_for(lambda: bool(bridge.lines("t ")))  # stop in the middle of delivering

    first.signal(signal.SIGTERM)
    started = time.monotonic()
    assert await first.wait(10) == 0, first.output
    assert time.monotonic() - started < 5
    assert bridge.db("PRAGMA integrity_check") == [("ok",)]
    wal = bridge.db_path.with_name(bridge.db_path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # the database was closed, not abandoned
    delivered = int(bridge.db("SELECT COUNT(*) FROM messages WHERE state = 'delivered'")[0][0])
    assert delivered == len(bridge.lines("t "))  # what Telegram has is exactly what is marked delivered

    second = await bridge.start()
    await bridge.wait_line("t 30")
    expect_once(bridge, "t ", 30)
    second.signal(signal.SIGINT)  # Ctrl-C stops just as cleanly
    assert await second.wait(10) == 0, second.output


# -- secrets -----------------------------------------------------------------------------------------


async def test_logs_never_show_the_token_the_key_or_the_secret(tmp_path: Path, processes: list[BridgeProcess]) -> None:
    async with (
        FakeBybit(api_key=API_KEY, api_secret=API_SECRET) as bybit,
        FakeTelegram(token=BOT_TOKEN) as telegram,
    ):
        bridge = Bridge(bybit, telegram, tmp_path, processes)
        order = bybit.add_order()
        bybit.post_message(order.id, "x 01")
        first = await bridge.start(LOG_LEVEL="DEBUG")
        await bridge.watch(order)
        await bridge.wait_line("x 01")
        assert "refused" in await bridge.reply_to("/watch 1898976123321229999")
        bybit.inject("auth", times=2)
        bybit.inject("timestamp", times=1)
        telegram.inject_retry_after(times=1, retry_after=1)
        telegram.inject_error(500, "Internal Server Error", times=1)
        bybit.post_message(order.id, "x 02")
        await bridge.wait_line("x 02")
        first.signal(signal.SIGTERM)
        assert await first.wait(10) == 0

        wrong_secret = "bybit-wrong-secret-Pq7Lm2Nx9Kd4"
        second = await bridge.start(LOG_LEVEL="DEBUG", BYBIT_API_SECRET=wrong_secret)  # Bybit refuses every call
        await telegram.wait_for(lambda: sum(1 for r in bybit.requests if r.ret_code == 10004) >= 3)
        second.signal(signal.SIGTERM)
        assert await second.wait(10) == 0

    logs = {p.stderr_path.name: p.output for p in processes}
    assert "10003" in logs[first.stderr_path.name] and "10004" in logs[second.stderr_path.name]
    for name, text in logs.items():
        for secret in (BOT_TOKEN, BOT_TOKEN.split(":")[1], API_KEY, API_SECRET, wrong_secret):
            assert secret not in text, f"{secret[:12]}… appears in {name}"


# -- configuration errors ----------------------------------------------------------------------------


async def test_configuration_errors_stop_start_up_naming_the_variable(
    bridge: Bridge, processes: list[BridgeProcess]
) -> None:
    refused_token = "123456:ThisTokenIsNotKnown-Kq93Ls"
    no_chat_id = bridge_env(bridge.bybit, bridge.telegram, bridge.db_path)
    del no_chat_id["TELEGRAM_CHAT_ID"]
    cases = {  # name: (environment, variable the message must name, values it must not show)
        "no-chat-id": (no_chat_id, "TELEGRAM_CHAT_ID", [bridge.telegram.token, bridge.bybit.api_secret]),
        "bad-poll-interval": (
            bridge_env(bridge.bybit, bridge.telegram, bridge.db_path, POLL_INTERVAL="every-7-seconds-QX"),
            "POLL_INTERVAL",
            ["every-7-seconds-QX"],
        ),
        "refused-token": (  # a well-formed token Telegram answers 401 to
            bridge_env(bridge.bybit, bridge.telegram, bridge.db_path, TELEGRAM_BOT_TOKEN=refused_token),
            "TELEGRAM_BOT_TOKEN",
            [refused_token, refused_token.split(":")[1]],
        ),
    }
    started = {name: BridgeProcess(bridge.workdir, env, name) for name, (env, _, _) in cases.items()}
    processes.extend(started.values())
    for process in started.values():  # concurrently: each one spends seconds importing
        await process.start()
    codes = dict(zip(started, await asyncio.gather(*(p.wait(60) for p in started.values())), strict=True))

    for name, (_, variable, hidden) in cases.items():
        stderr, output = started[name].stderr, started[name].output
        assert codes[name] == 2, (name, output)
        assert variable in stderr, (name, stderr)
        assert "Traceback" not in stderr, (name, stderr)
        for value in hidden:
            assert value not in output, (name, output)
    assert "401" in started["refused-token"].stderr
    assert bridge.telegram.sent == []  # nothing was posted anywhere


# -- demo --------------------------------------------------------------------------------------------


async def test_run_without_credentials_stops_naming_them(tmp_path: Path, processes: list[BridgeProcess]) -> None:
    process = BridgeProcess(tmp_path, base_env(), "no-credentials")
    processes.append(process)
    await process.start()
    assert await process.wait(60) == 2, process.output  # a container started without its env file is not healthy
    assert "TELEGRAM_BOT_TOKEN" in process.stderr and "BYBIT_API_SECRET" in process.stderr
    assert "demo" not in process.output


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_quick_start_with_no_credentials_plays_the_demo(tmp_path: Path, processes: list[BridgeProcess]) -> None:
    process = BridgeProcess(tmp_path, base_env() | {"PYTHONUNBUFFERED": "1"}, "demo", "run", "--or-demo")
    processes.append(process)
    await process.start()
    assert await process.wait(90) == 0, process.output
    assert "demo over" in process.output
