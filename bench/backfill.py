"""Backfill: 200 orders ``/watch``ed at once (ten commands), each with a history message, until every history is in
Telegram.

The real bridge as a subprocess, Bybit answering after 150 ms with its budget (10 reads a second) enforced,
Telegram pacing raised (the Bybit side alone counts); on both chat APIs. Issue 19's target: 30 s.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.process import RAISED_PACING, BridgeProcess, bridge_env
from bridge.sandbox import FakeBybit, FakeTelegram
from bridge.sandbox.fake_bybit import CODE_RATE_LIMIT, WRITE_PATHS
from bridge.telegram.incoming.watching import MAX_IDS_PER_COMMAND

CHAT = -1001000000001
ORDERS = 200
DELAY = 0.15
READS_PER_SECOND = 10
TARGET_SECONDS = 30.0
TIMEOUT = 180.0
APIS = ("order", "session")
HISTORY = re.compile(r"history of (\d+)")


async def watch_many(api: str, orders: int = ORDERS) -> dict[str, Any]:
    """``/watch`` of ``orders`` orders on chat API ``api``: seconds until every history arrived, and Bybit's reads."""
    async with FakeBybit() as bybit, FakeTelegram() as telegram:
        telegram.add_chat(CHAT, type="supergroup", title="Bench")
        made = [bybit.add_order(counterparty_nick=f"Buyer{n:04d}") for n in range(orders)]
        for order in made:
            bybit.post_message(order.id, f"history of {order.id}")
        bybit.delay, bybit.reads_per_second = DELAY, READS_PER_SECOND
        with tempfile.TemporaryDirectory(prefix="bench-backfill-") as tmp:
            env = bridge_env(bybit, telegram, CHAT, Path(tmp) / "bridge.db", BYBIT_CHAT_API=api, **RAISED_PACING)
            async with BridgeProcess(telegram, Path(tmp), env, api):
                before = len(bybit.requests)
                started = time.monotonic()
                for first in range(0, orders, MAX_IDS_PER_COMMAND):  # (as many ids as one /watch takes, at once)
                    telegram.user_says(
                        CHAT, "/watch " + " ".join(o.id for o in made[first : first + MAX_IDS_PER_COMMAND])
                    )
                waiting = {order.id for order in made}
                scanned = 0

                def arrived() -> bool:
                    nonlocal scanned
                    for post in telegram.sent[scanned:]:
                        waiting.difference_update(HISTORY.findall(post.plain or ""))
                    scanned = len(telegram.sent)
                    return not waiting

                await telegram.wait_for(arrived, timeout=TIMEOUT)
                seconds = time.monotonic() - started
                reads = [r for r in bybit.requests[before:] if r.path not in WRITE_PATHS]
    return {
        "seconds": seconds,
        "reads_per_second": sum(1 for r in reads if r.ret_code != CODE_RATE_LIMIT) / seconds,
        "rate_limited": sum(1 for r in reads if r.ret_code == CODE_RATE_LIMIT),
    }


async def run_all() -> dict[str, dict[str, Any]]:
    """The backfill on each chat API."""
    return {api: await watch_many(api) for api in APIS}


def render(results: dict[str, dict[str, Any]]) -> str:
    """The figures as a BENCHMARKS.md section."""
    rows = "\n".join(
        f"| {api} | {r['seconds']:.1f} s | {r['reads_per_second']:.1f} | {r['rate_limited']} | ≤ {TARGET_SECONDS:.0f} s"
        f" | {'met' if r['seconds'] <= TARGET_SECONDS else '**not met**'} |"
        for api, r in results.items()
    )
    return f"""## Backfill: {ORDERS} orders `/watch`ed at once, Bybit's budget enforced

| chat API | every history in Telegram | Bybit reads/s | 10006 | target | |
|---|---|---|---|---|---|
{rows}

The real bridge (a subprocess) against a fake Bybit answering after {DELAY * 1000:.0f} ms and refusing past
{READS_PER_SECOND} reads a second; each order has one message; Telegram pacing raised. Timed from the command
to the last history's post; the commands (20 ids each, the most one takes) all sent at once.
"""
