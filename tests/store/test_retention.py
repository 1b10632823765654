"""Retention on a real SQLite file: what a prune forgets, what it must keep, and what it remembers."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

from bridge.store import ALERT_ID_PREFIX, MIGRATIONS, NewReply, OutState, Pruned, Retirement, State, Store
from tests.factories import message, order

CHAT = -100


async def _watched(store: Store, order_id: str, states: dict[str, State]) -> None:
    """An order watched into CHAT with one message per ``msg_id: state`` (ids in the order written)."""
    await store.orders.watch(order(id=order_id), CHAT, None, 1)
    await store.orders.set_home(order_id, None, 7)
    await store.messages.record(
        (order_id, message(f"text {msg_id}", id=msg_id, orderId=order_id, createDate=str(1_000 + n)), state)
        for n, (msg_id, state) in enumerate(states.items())
    )


def _column(path: Path, sql: str) -> set[str]:
    """The first column of a query, read from the file itself rather than through the store."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        return {str(row[0]) for row in db.execute(sql)}


async def test_prune_forgets_settled_history_of_long_unwatched_orders(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    async with await Store.open(path) as store:
        alert = f"{ALERT_ID_PREFIX}1-50-1741765999000"  # the bridge's own, newest, and not in Bybit's chat
        await _watched(
            store, "1", {"11": State.SKIPPED, "12": State.DELIVERED, "13": State.ECHO, alert: State.DELIVERED}
        )
        await store.messages.mark_delivered([2], CHAT, [501, 502])
        reply = NewReply(CHAT, 900, "1", 5, "Ann", "on my way")
        await store.outbox.add(reply)
        [queued] = await store.outbox.due()
        await store.outbox.settle(queued.id, OutState.SENT)
        await store.outbox.feedback_given(queued)
        await store.orders.unwatch("1")

        assert await store.orders.prune(time.time() - 60) == Pruned(0, 0, 0, 0)  # unwatched too recently
        assert await store.orders.prune(time.time() + 1) == Pruned(orders=1, messages=4, posts=2, replies=1)

        assert _column(path, "SELECT order_id FROM orders") == set()
        assert _column(path, "SELECT msg_id FROM messages") == set()
        assert _column(path, "SELECT message_id FROM posts") == set()
        assert _column(path, "SELECT id FROM outbox") == set()
        assert await store.messages.known_ids(["11", "12", "13", alert]) == {"13"}  # Bybit's newest stops a read
        assert await store.orders.known("1") and not await store.orders.known("2")
        assert await store.orders.prune(time.time() + 1) == Pruned(0, 0, 0, 0)


async def test_prune_keeps_what_is_unsettled_or_still_watched(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    async with await Store.open(path) as store:
        await _watched(store, "1", {"11": State.DELIVERED})  # still watched
        await _watched(store, "2", {"21": State.DELIVERED, "22": State.DEAD, "23": State.PENDING})
        await _watched(store, "3", {"31": State.DELIVERED})  # a reply whose teammate is still owed word
        await store.outbox.add(NewReply(CHAT, 901, "3", 5, "Ann", "wait"))
        await _watched(store, "4", {"41": State.DELIVERED})  # its topic is still to close
        await store.orders.set_home("4", 77, 7)
        await store.orders.update_info(order(id="4", status=50), finished=True)
        for order_id in ("2", "3"):
            await store.orders.unwatch(order_id)
        assert await store.orders.retire_finished(grace=-1, read_at={}) == Retirement([], ["4"])  # read it first
        assert await store.orders.retire_finished(grace=-1, read_at={"4": time.time()}) == Retirement(["4"], [])

        pruned = await store.orders.prune(time.time() + 1)

        assert pruned == Pruned(orders=0, messages=2, posts=0, replies=0)
        assert _column(path, "SELECT msg_id FROM messages") == {"11", "22", "23", "41"}
        assert _column(path, "SELECT order_id FROM orders") == {"1", "2", "3", "4"}
        assert _column(path, "SELECT order_id FROM outbox") == {"3"}
        assert await store.messages.known_ids(["21", "31"]) == {"31"}  # 21 is older than its order's newest


async def test_a_rewatched_order_is_not_pruned_until_unwatched_again(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "w.db") as store:
        await _watched(store, "1", {"11": State.DELIVERED})
        await store.orders.unwatch("1")
        await store.orders.watch(order(id="1"), CHAT, None, 1)
        assert await store.orders.prune(time.time() + 1) == Pruned(0, 0, 0, 0)
        await store.orders.unwatch("1")
        assert (await store.orders.prune(time.time() + 1)).orders == 1


BEFORE_RETENTION = next(n for n, step in enumerate(MIGRATIONS) if "retention" in step.description)


async def test_orders_unwatched_before_the_upgrade_count_from_the_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript(
            "".join(step.script + ";" for step in MIGRATIONS[:BEFORE_RETENTION])
            + f"PRAGMA user_version = {BEFORE_RETENTION};"
        )
        db.execute(
            "INSERT INTO orders (order_id, chat_id, info, watched_at, active) VALUES ('1', ?, ?, 0, 0)",
            (CHAT, order(id="1").model_dump_json(by_alias=True)),
        )
        db.commit()
    async with await Store.open(path) as store:
        assert await store.orders.prune(time.time() - 60) == Pruned(0, 0, 0, 0)
        assert (await store.orders.prune(time.time() + 1)).orders == 1


async def test_an_order_whose_file_is_still_to_follow_is_not_retired(tmp_path: Path) -> None:
    """Before: it was retired (its topic closed) while the file that follows its placeholder was still coming."""
    path = tmp_path / "f.db"
    async with await Store.open(path) as store:
        await _watched(store, "5", {"51": State.DELIVERED})
        await store.orders.update_info(order(id="5", status=50), finished=True)
    with sqlite3.connect(path) as db:
        db.execute(
            """INSERT INTO follows (seq, chat_id, placeholder, since, retry_at)
               SELECT seq, ?, 9, 0, 0 FROM messages WHERE msg_id = '51'""",
            (CHAT,),
        )
    async with await Store.open(path) as store:
        assert await store.orders.retire_finished(grace=-1, read_at={"5": time.time()}) == Retirement([], [])
