"""The store on a real SQLite file: migrations, idempotent recording, delivery state."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from bridge.bybit import ContentType
from bridge.errors import SchemaTooNew
from bridge.store import MIGRATIONS, SCHEMA_VERSION, Attachment, NewReply, OutState, State, Store
from tests.factories import message, order


async def test_fresh_database_has_the_latest_schema(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "a.db") as store:
        assert await store.schema_version() == SCHEMA_VERSION
    with sqlite3.connect(tmp_path / "a.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_version_1_database_is_migrated_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as db:
        db.executescript(MIGRATIONS[0].script + "; PRAGMA user_version = 1;")
        db.execute(
            "INSERT INTO orders (order_id, chat_id, info, watched_at) VALUES (?, ?, ?, 0)",
            ("1898976123321221120", -100, order().model_dump_json(by_alias=True)),
        )
    async with await Store.open(path) as store:
        assert await store.schema_version() == SCHEMA_VERSION
        [watch] = await store.orders.active()
        assert watch.home_ready and watch.card_message_id is None  # old watches keep posting where they did


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaTooNew, match="newer"):
        await Store.open(path)


def test_every_migration_says_what_it_adds() -> None:
    assert all(step.description and step.script.strip() for step in MIGRATIONS)
    assert len({step.description for step in MIGRATIONS}) == len(MIGRATIONS)


async def test_recording_twice_adds_nothing_and_delivery_marks_stick(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "b.db") as store:
        info = order()
        await store.orders.watch(info, -100, None, 1)
        assert await store.messages.chats_with_work() == {-100}  # its home is still to be made
        await store.orders.set_home(info.id, None, 7)
        msgs = [message(f"m{n}", id=str(100 + n)) for n in range(3)]
        entries = [(info.id, m, State.PENDING) for m in msgs]
        assert await store.messages.record(entries) == 3
        assert await store.messages.record(entries) == 0
        assert await store.messages.known_ids(["100", "102", "999"]) == {"100", "102"}
        pending = await store.messages.pending(-100)
        assert [p.message.message for p in pending] == ["m0", "m1", "m2"]
        await store.messages.mark_delivered([pending[0].seq, pending[1].seq], -100, [55])
        assert [p.message.message for p in await store.messages.pending(-100)] == ["m2"]
        queue = await store.messages.queue()
        assert (queue.delivered, queue.pending, queue.held, queue.dead, queue.seen) == (2, 1, 0, 0, 3)
    async with await Store.open(tmp_path / "b.db") as reopened:  # survives a restart
        assert [p.message.message for p in await reopened.messages.pending(-100)] == ["m2"]


async def test_messages_of_orders_no_longer_watched_are_still_delivered(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "c.db") as store:
        info = order()
        await store.orders.watch(info, -100, None, 1)
        await store.orders.set_home(info.id, None, 7)
        await store.messages.record([(info.id, message("seen before"), State.PENDING)])
        assert await store.orders.unwatch(info.id)
        assert not await store.orders.unwatch(info.id)
        await store.messages.record([(info.id, message("read in flight", id="2"), State.PENDING)])
        later = str(int(time.time() * 1000) + 60_000)
        assert (
            await store.messages.record([(info.id, message("written after", id="3", createDate=later), State.PENDING)])
            == 0
        )
        assert [p.message.message for p in await store.messages.pending()] == ["seen before", "read in flight"]
        assert (await store.messages.queue()).unwatched == 2
        assert await store.messages.chats_with_work() == {-100}
        await store.orders.watch(info, -100, None, 1)
        assert (await store.messages.queue()).unwatched == 0


async def test_a_card_edited_while_a_newer_detail_came_stays_to_edit(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "d.db") as store:
        info = order(status=10)
        await store.orders.watch(info, -100, None, 1)
        await store.orders.set_home(info.id, None, 7)
        await store.orders.update_info(order(status=10, amount="9300.00"))
        (editing,) = await store.orders.stale_cards(-100)
        await store.orders.update_info(order(status=20))  # kept while the older detail was being shown
        await store.orders.card_edited(editing)
        (stale,) = await store.orders.stale_cards(-100)
        assert stale.info.status == 20
        await store.orders.card_edited(stale)
        assert await store.orders.stale_cards(-100) == []


async def test_replies_queued_before_parts_keep_their_place_and_a_caption_becomes_a_part(tmp_path: Path) -> None:
    path = tmp_path / "parts.db"
    before_parts = next(n for n, step in enumerate(MIGRATIONS) if "one row per part" in step.description)
    with sqlite3.connect(path) as db:
        db.executescript("".join(step.script + ";" for step in MIGRATIONS[:before_parts]))
        db.execute(f"PRAGMA user_version = {before_parts}")
        db.execute(
            "INSERT INTO orders (order_id, chat_id, info, watched_at) VALUES (?, ?, ?, 0)",
            ("1", -100, order().model_dump_json(by_alias=True)),
        )
        db.execute(
            """INSERT INTO outbox (chat_id, tg_message_id, order_id, text, msg_uuid, state, created_at)
               VALUES (-100, 7, '1', 'queued before', 'u-1', 'queued', 0)"""
        )
    async with await Store.open(path) as store:
        photo = Attachment(b"png", "photo.jpg", "image/jpeg", ContentType.PICTURE)
        assert await store.outbox.add(NewReply(-100, 8, "1", 5, "Ann", "see the receipt", photo))
        assert not await store.outbox.add(NewReply(-100, 8, "1", 5, "Ann", "see the receipt", photo))  # once
        due = await store.outbox.due()
        assert [(r.tg_message_id, r.part, r.text, r.file is not None) for r in due] == [
            (7, 0, "queued before", False),
            (8, 0, "", True),
            (8, 1, "see the receipt", False),
        ]
        for reply in due:
            await store.outbox.settle(reply.id, OutState.SENT)
        assert [len(parts) for parts in await store.outbox.feedback_owed()] == [1, 2]
        assert (await store.outbox.counts())[OutState.SENT] == 2  # replies, not parts
