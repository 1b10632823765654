"""Retention end to end: an unwatched order is pruned by the running bridge, and a re-watch repeats nothing."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from bridge.core import Retention
from bridge.core.hints import UNREAD_KEY
from bridge.store import Store
from tests.factories import order
from tests.harness import Harness

TINY_RETENTION_DAYS = 1e-5  # under a second: pruned about a second after /unwatch


async def test_rewatched_pruned_order_forwards_only_what_is_new(harness: Harness) -> None:
    bybit = harness.bybit
    order = bybit.add_order()
    for n in range(1, 4):
        bybit.post_message(order.id, f"r {n:02d}")
    await harness.start(retention_days=TINY_RETENTION_DAYS)
    await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("r 03")
    await harness.telegram.wait_for(lambda: _count(harness, "messages", "state = 'pending'") == 0)
    assert "Stopped" in await harness.reply_to(f"/unwatch {order.id}")

    await harness.telegram.wait_for(lambda: _count(harness, "orders") == 0, timeout=10)
    assert _count(harness, "messages") == 0
    bybit.post_message(order.id, "r 04")
    await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("r 04")
    bybit.post_message(order.id, "r 05")
    await harness.wait_text("r 05")

    lines = [line for text in harness.texts() for line in text.splitlines() if line.startswith("r ")]
    assert lines == ["r 01", "r 02", "r 03", "r 04", "r 05"]  # the pruned ones were not forwarded again


def _count(harness: Harness, table: str, where: str = "1") -> int:
    with contextlib.closing(sqlite3.connect(harness.db_path)) as db:
        return int(db.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}").fetchone()[0])


async def test_unread_counts_go_with_retention_but_those_of_watched_orders(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "r.db") as store:
        await store.orders.watch(order(id="1", targetNickName="BuyerBob"), -100, None, 1)
        await store.orders.watch(order(id="2", targetNickName="SellerEve"), -100, None, 1)
        await store.orders.unwatch("2")
        counts = ["order:1", "order:2", "order:3", "session:BuyerBob", "session:SellerEve", "session:Stranger"]
        await store.values.set_many({UNREAD_KEY + name: "1" for name in counts})

        await Retention(store, days=30).prune()

        assert (await store.values.with_prefix(UNREAD_KEY)).keys() == {"order:1", "session:BuyerBob"}
