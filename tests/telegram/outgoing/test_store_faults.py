"""The store refusing to write (database locked, disk full) never makes a post go out twice."""

from __future__ import annotations

import sqlite3

import pytest

from tests.harness import TEAM_CHAT, Harness


async def test_a_post_the_store_cannot_record_holds_its_chat_and_is_recorded_later_never_posted_again(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    order = harness.bybit.add_order()
    await harness.start()
    await harness.reply_to(f"/watch {order.id}")
    await harness.telegram.wait_for(lambda: any("Order …" in t for t in harness.texts()))
    harness.telegram.inject_slow_response(1.0, method="sendMessage")  # Telegram takes the post, answers late
    harness.bybit.post_message(order.id, "s 01 paid, see receipt")
    await harness.wait_text("s 01 paid")

    locker = sqlite3.connect(harness.db_path, isolation_level=None)  # another process locks the database
    locker.execute("BEGIN EXCLUSIVE")
    try:  # the bridge's record of the post waits SQLite's busy timeout, then fails
        await harness.telegram.wait_for(lambda: "the store refused a write" in caplog.text, timeout=20)
        status = await harness.reply_to("/status", timeout=20)
        assert f"Held chats: {TEAM_CHAT} (the store refused a write: database is locked" in status
        harness.bybit.post_message(order.id, "s 02 while the store is locked")
    finally:
        locker.rollback()
        locker.close()
    await harness.wait_text("s 02 while the store is locked", timeout=30)

    assert sum("s 01 paid" in t for t in harness.texts()) == 1  # held, recorded later, never posted again
    assert caplog.text.count("the store refused a write") == 1  # logged once
    status = await harness.reply_to("/status")
    assert "Held chats" not in status
    with sqlite3.connect(harness.db_path) as db:
        states = dict(db.execute("SELECT json_extract(payload, '$.message'), state FROM messages").fetchall())
    assert states == {"s 01 paid, see receipt": "delivered", "s 02 while the store is locked": "delivered"}
