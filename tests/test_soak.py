"""Soak: the bridge as a process for minutes while orders come, talk and go, with a tiny retention period.

The database (rows and file) and the process's memory must stay flat once warmed up; every message still
arrives once, including after a pruned order is watched again. ``SOAK_SECONDS`` sets the length.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sqlite3
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from bridge.bybit import OrderStatus
from tests.processes import Bridge

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "150"))
SAMPLE_EVERY = 5.0
ORDERS_AT_ONCE = 4
MESSAGES_PER_ORDER = 8
RETENTION_DAYS = 2e-5  # under two seconds
GROWTH = 1.3  # the last third of the run may average at most this much above the middle third
TABLES = ("orders", "messages", "posts", "outbox", "pruned")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(SOAK_SECONDS + 180)]


@dataclass(frozen=True)
class Sample:
    """One look at the bridge: seconds since start, rows per table, database file and WAL, resident memory."""

    at: float
    rows: dict[str, int]
    db_kb: int
    wal_kb: int
    rss_kb: int


def rss_kb(pid: int) -> int:
    """The process's resident set size (``VmRSS`` in /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise LookupError(f"no VmRSS for process {pid}")


def sample(bridge: Bridge, pid: int, started: float) -> Sample:
    with contextlib.closing(sqlite3.connect(bridge.db_path)) as db:
        rows = {table: int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]) for table in TABLES}
    wal = bridge.db_path.with_name(bridge.db_path.name + "-wal")
    return Sample(
        at=time.monotonic() - started,
        rows=rows,
        db_kb=bridge.db_path.stat().st_size // 1024,
        wal_kb=wal.stat().st_size // 1024 if wal.exists() else 0,
        rss_kb=rss_kb(pid),
    )


def assert_flat(name: str, values: list[int], slack: int) -> None:
    """The last third's mean is within GROWTH (plus ``slack``) of the middle third's: no steady growth."""
    third = len(values) // 3
    middle, last = statistics.mean(values[third : 2 * third]), statistics.mean(values[2 * third :])
    assert last <= middle * GROWTH + slack, f"{name} grows: {values}"


class Traffic:
    """Orders that come, talk and go; what each should show in Telegram, line by line."""

    def __init__(self, bridge: Bridge, rng: random.Random) -> None:
        self.bridge = bridge
        self.rng = rng
        self.expected: dict[str, list[str]] = {}

    def post(self, order_id: str, prefix: str) -> None:
        line = f"{prefix}{len(self.expected[prefix]) + 1:02d}"
        self.bridge.bybit.post_message(order_id, line)
        self.expected[prefix].append(line)

    async def life(self, number: int) -> None:
        """Watch a new order, talk, then /unwatch it (or let it complete); every fourth is watched again."""
        bybit, prefix = self.bridge.bybit, f"o{number:04d} "
        order = bybit.add_order(counterparty_nick=f"Buyer{number % 5}")
        self.expected[prefix] = []
        for _ in range(2):
            self.post(order.id, prefix)
        await self.bridge.watch(order)
        while len(self.expected[prefix]) < MESSAGES_PER_ORDER:
            await asyncio.sleep(self.rng.uniform(0.1, 0.6))
            self.post(order.id, prefix)
        await self.bridge.wait_line(self.expected[prefix][-1], timeout=30)
        if number % 3 == 0:  # completed: the bridge retires it after UNWATCH_GRACE
            order.status = OrderStatus.COMPLETED
            bybit.post_message(order.id, "Order completed", sender="system")
        else:
            assert "Stopped" in await self.bridge.reply_to(f"/unwatch {order.id}")
        if number % 4 == 0:
            await self.rewatch(order.id, prefix)

    async def rewatch(self, order_id: str, prefix: str) -> None:
        """Once the order is pruned, watch it again: only the new message may arrive."""
        await self.bridge.telegram.wait_for(
            lambda: not self.bridge.db("SELECT 1 FROM orders WHERE order_id = ?", order_id), timeout=30
        )
        self.post(order_id, prefix)
        assert "Watching" in await self.bridge.reply_to(f"/watch {order_id}")
        await self.bridge.wait_line(self.expected[prefix][-1], timeout=30)
        assert "Stopped" in await self.bridge.reply_to(f"/unwatch {order_id}")


async def test_database_and_memory_stay_flat(bridge: Bridge) -> None:
    seed = int(os.environ.get("SOAK_SEED", random.randrange(1 << 32)))
    print(f"\nsoak seed {seed}, {SOAK_SECONDS:.0f} s")
    traffic = Traffic(bridge, random.Random(seed))
    process = await bridge.start(RETENTION_DAYS=str(RETENTION_DAYS), UNWATCH_GRACE="1", POLL_INTERVAL="1")
    assert process.proc is not None
    started = time.monotonic()
    samples: list[Sample] = []
    lives: set[asyncio.Task[None]] = set()
    number = 0
    next_sample = started
    while time.monotonic() - started < SOAK_SECONDS:
        for done in [task for task in lives if task.done()]:
            lives.discard(done)
            done.result()
        while len(lives) < ORDERS_AT_ONCE:
            number += 1
            lives.add(asyncio.create_task(traffic.life(number)))
        if time.monotonic() >= next_sample:
            samples.append(sample(bridge, process.proc.pid, started))
            next_sample += SAMPLE_EVERY
        await asyncio.sleep(0.2)
    await asyncio.gather(*lives)
    assert process.running, process.output

    print(f"{number} orders; t(s)  " + "  ".join(TABLES) + "  db(KB) wal(KB) rss(KB)")
    for s in samples:
        print(f"{s.at:6.0f}  " + "  ".join(f"{s.rows[t]:5d}" for t in TABLES) + f"  {s.db_kb} {s.wal_kb} {s.rss_kb}")
    for table in ("orders", "messages", "posts"):
        assert_flat(table, [s.rows[table] for s in samples], slack=ORDERS_AT_ONCE * MESSAGES_PER_ORDER)
    assert_flat("database file", [s.db_kb for s in samples], slack=64)
    assert_flat("resident memory", [s.rss_kb for s in samples], slack=4096)
    for prefix, lines in traffic.expected.items():
        assert bridge.lines(prefix) == lines
