"""A store write that fails is rolled back: nothing of it is committed by the next write."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bridge.store import State, Store
from tests.factories import message, order

CHAT = -100123


def fill_the_disk_for(db_path: Path, table: str) -> None:
    """From a second connection: every insert into ``table`` fails as on a full disk (a trigger SQLite runs)."""
    with sqlite3.connect(db_path) as other:
        other.execute(
            f"""CREATE TRIGGER full_disk BEFORE INSERT ON {table}
                BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END"""
        )


def free_the_disk(db_path: Path) -> None:
    with sqlite3.connect(db_path) as other:
        other.execute("DROP TRIGGER full_disk")


async def store_with_a_pending_message(db_path: Path) -> Store:
    store = await Store.open(db_path)
    info = order()
    await store.orders.watch(info, CHAT, None, None)
    await store.orders.set_home(info.id, None, 1)
    await store.messages.record([(info.id, message("paid, see receipt"), State.PENDING)])
    return store


async def test_a_write_that_fails_half_way_is_not_committed_by_the_next_one(tmp_path: Path) -> None:
    db_path = tmp_path / "bridge.db"
    async with await store_with_a_pending_message(db_path) as store:
        [item] = await store.messages.pending(CHAT)
        fill_the_disk_for(db_path, "posts")  # marking it delivered updates the message, then fails on its post
        with pytest.raises(sqlite3.DatabaseError, match="disk is full"):
            await store.messages.mark_delivered([item.seq], CHAT, [77])
        await store.values.set("any", "next write")  # commits whatever the connection's transaction holds
        free_the_disk(db_path)

        assert [p.seq for p in await store.messages.pending(CHAT)] == [item.seq]  # still to deliver, whole
        assert await store.orders.of_post(CHAT, 77) is None


async def test_writers_never_share_a_transaction(tmp_path: Path) -> None:
    db_path = tmp_path / "bridge.db"
    async with await store_with_a_pending_message(db_path) as store:
        [item] = await store.messages.pending(CHAT)
        fill_the_disk_for(db_path, "posts")

        async def keep_writing() -> None:  # another part of the bridge, committing between its statements
            for n in range(50):
                await store.values.set(f"key {n}", "value")

        others = asyncio.create_task(keep_writing())
        await asyncio.sleep(0)
        with pytest.raises(sqlite3.DatabaseError, match="disk is full"):
            await store.messages.mark_delivered([item.seq], CHAT, [77])
        await others
        free_the_disk(db_path)

        assert [p.seq for p in await store.messages.pending(CHAT)] == [item.seq]
        assert len(await store.values.with_prefix("key ")) == 50
