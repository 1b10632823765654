"""Delivery: one order at a time through the in-process bridge (latency, a 300-message burst, a flood of
10 orders into one forum under Telegram's limits ×10); Bybit answers at once, with its budget enforced."""

from __future__ import annotations

import asyncio
import functools
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bridge.app import run_bridge
from bridge.sandbox import FakeBybit, FakeTelegram
from bridge.sandbox.settings import sandbox_settings

CHAT = -1001000000001
LISTPAGE = "/v5/p2p/order/message/listpage"


async def with_bridge(
    body: Callable[[FakeBybit, FakeTelegram], Awaitable[dict[str, Any]]],
    *,
    forum: bool = False,
    flood_scale: int = 0,
    **overrides: Any,
) -> dict[str, Any]:
    """Run ``body`` with the real bridge started between fresh fakes."""
    telegram_kwargs: dict[str, Any] = {"enforce_flood_limits": True, "flood_scale": flood_scale} if flood_scale else {}
    async with FakeBybit() as bybit, FakeTelegram(**telegram_kwargs) as telegram:
        telegram.add_chat(CHAT, type="supergroup", title="Bench", is_forum=forum)
        with tempfile.TemporaryDirectory() as tmp:
            stop = asyncio.Event()
            settings = sandbox_settings(bybit, telegram, CHAT, Path(tmp) / "bench.db", **overrides)
            task = asyncio.create_task(run_bridge(settings, stop))
            await telegram.wait_for(lambda: any(r.method.lower() == "getupdates" for r in telegram.requests))
            try:
                return await body(bybit, telegram)
            finally:
                stop.set()
                await task


def delivered(telegram: FakeTelegram, needle: str) -> bool:
    """Whether a post (or caption) in the fake Telegram contains ``needle``."""
    return any(needle in (s.plain or s.plain_caption or "") for s in telegram.sent)


async def watch(bybit: FakeBybit, telegram: FakeTelegram, order_ids: list[str]) -> None:
    """``/watch`` the orders in the team chat and wait for the bot's answer."""
    telegram.user_says(CHAT, "/watch " + " ".join(order_ids))
    await telegram.wait_for(lambda: any("Watching" in (s.plain or "") for s in telegram.sent), timeout=60)


async def latency(poll_interval: float) -> dict[str, Any]:
    """One message at a time: seconds from Bybit having it to Telegram getting it."""

    async def body(bybit: FakeBybit, telegram: FakeTelegram) -> dict[str, Any]:
        order = bybit.add_order()
        await watch(bybit, telegram, [order.id])
        samples = []
        rng = random.Random(7)
        for n in range(30):
            posted = time.monotonic()
            bybit.post_message(order.id, f"ping {n}")
            await telegram.wait_for(functools.partial(delivered, telegram, f"ping {n}"), timeout=30)
            samples.append(time.monotonic() - posted)
            await asyncio.sleep(rng.uniform(0, poll_interval))  # arrivals at random points of the poll cycle
        samples.sort()
        return {
            "p50": statistics.median(samples),
            "p95": samples[int(len(samples) * 0.95) - 1],
            "max": samples[-1],
            "polls_per_s": bybit.calls_to(LISTPAGE) / max(1e-9, time.monotonic() - telegram.requests[0].time),
        }

    return await with_bridge(
        body,
        poll_interval=poll_interval,
        telegram_group_messages_per_minute=6000,
        telegram_chat_messages_per_second=100,
    )


async def burst(count: int) -> dict[str, Any]:
    """``count`` messages land between two polls: time until all are in Telegram, and posts used."""

    async def body(bybit: FakeBybit, telegram: FakeTelegram) -> dict[str, Any]:
        order = bybit.add_order()
        bybit.post_message(order.id, "start")
        await watch(bybit, telegram, [order.id])
        await telegram.wait_for(lambda: delivered(telegram, "start"), timeout=60)
        before_posts, before_calls = len(telegram.sent), bybit.calls_to(LISTPAGE)
        started = time.monotonic()
        for n in range(count):
            bybit.post_message(order.id, f"burst {n:04d}")
        await telegram.wait_for(lambda: delivered(telegram, f"burst {count - 1:04d}"), timeout=600)
        lines = [line for s in telegram.sent for line in (s.plain or "").splitlines() if line.startswith("burst ")]
        return {
            "seconds": time.monotonic() - started,
            "posts": len(telegram.sent) - before_posts,
            "complete_in_order": lines == [f"burst {n:04d}" for n in range(count)],
            "bybit_calls": bybit.calls_to(LISTPAGE) - before_calls,
        }

    return await with_bridge(body, poll_interval=1.0)


async def flood(scale: int) -> dict[str, Any]:
    """10 orders x 20 messages (every fifth a photo) into one forum under enforced flood limits."""

    async def body(bybit: FakeBybit, telegram: FakeTelegram) -> dict[str, Any]:
        orders = [bybit.add_order(counterparty_nick=f"Buyer{n}") for n in range(10)]
        await watch(bybit, telegram, [o.id for o in orders])
        await telegram.wait_for(lambda: len(telegram.chats[CHAT].topics) == 10, timeout=600)
        started, before = time.monotonic(), len(telegram.sent)
        for n in range(20):
            for order in orders:
                if n % 5 == 4:
                    bybit.post_media(order.id, "pic", b"\x89PNG" + bytes(n), f"r{n}.png")
                else:
                    bybit.post_message(order.id, f"{order.id[-2:]} msg {n:02d}")
        await telegram.wait_for(lambda: sum(1 for s in telegram.sent if s.media_kind) == 40, timeout=1200)
        await telegram.wait_for(lambda: all(delivered(telegram, f"{o.id[-2:]} msg 18") for o in orders), timeout=1200)
        return {
            "seconds": time.monotonic() - started,
            "posts": len(telegram.sent) - before,
            "flood_errors": telegram.flood_errors,
        }

    return await with_bridge(
        body,
        forum=True,
        flood_scale=scale,
        poll_interval=1.0,
        telegram_group_messages_per_minute=20 * scale,
        telegram_chat_messages_per_second=scale,
        telegram_global_messages_per_second=30 * scale,
    )


async def run_all() -> dict[str, dict[str, Any]]:
    """Every delivery benchmark once."""
    return {
        "latency_1s": await latency(1.0),
        "latency_3s": await latency(3.0),
        "burst_300": await burst(300),
        "flood_x10": await flood(10),
    }


def render(r: dict[str, dict[str, Any]]) -> str:
    """The figures as BENCHMARKS.md sections."""
    lat1, lat3, burst_, flood_ = r["latency_1s"], r["latency_3s"], r["burst_300"], r["flood_x10"]
    return f"""## Delivery latency (Bybit has it → Telegram got it), 30 single messages

| POLL_INTERVAL | p50 | p95 | max | Bybit list calls/s |
|---|---|---|---|---|
| 1 s | {lat1["p50"]:.2f} s | {lat1["p95"]:.2f} s | {lat1["max"]:.2f} s | {lat1["polls_per_s"]:.2f} |
| 3 s | {lat3["p50"]:.2f} s | {lat3["p95"]:.2f} s | {lat3["max"]:.2f} s | {lat3["polls_per_s"]:.2f} |

Latency is bounded by the poll interval plus the post itself (messages arrive at random points of the poll
cycle); the budget used is one list call per watched order per interval, far below Bybit's 10 reads/s.

## Burst: 300 messages land in one order between two polls

| seconds to deliver all | Telegram posts | complete and in order | Bybit list calls |
|---|---|---|---|
| {burst_["seconds"]:.2f} | {burst_["posts"]} | {burst_["complete_in_order"]} | {burst_["bybit_calls"]} |

Paging goes back until a known message (300 messages = 10 pages of 30); a backed-up queue is coalesced into
few posts instead of 300 paced ones (at Telegram's 20 posts/min per group, 300 posts would take 15 min).

## Flood: 10 orders × 20 messages (40 photos) into one forum group, flood limits enforced ×10

| seconds | Telegram posts | 429 answers |
|---|---|---|
| {flood_["seconds"]:.2f} | {flood_["posts"]} | {flood_["flood_errors"]} |

The fake Telegram answers 429 whenever a bot exceeds its limits (here scaled ×10: 200 posts/min per group,
10/s per chat, 300/s overall, with the bridge's pacing set to the same scale). `make test-slow` runs the same
flood at Telegram's real limits.
"""
