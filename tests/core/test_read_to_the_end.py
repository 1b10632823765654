"""Finished and unwatched orders: read to the end, and every message recorded for them delivered."""

from __future__ import annotations

import contextlib
import sqlite3

from bridge.sandbox.fake_bybit import FakeOrder
from tests.harness import TEAM_CHAT, Harness

LISTPAGE = "/v5/p2p/order/message/listpage"
SLOW = {"poll_interval_max": 600.0, "unwatch_grace": 1.0}  # an idle chat may wait minutes between two reads


def active_orders(harness: Harness) -> list[str]:
    with contextlib.closing(sqlite3.connect(harness.db_path)) as db:
        return [str(row[0]) for row in db.execute("SELECT order_id FROM orders WHERE active = 1")]


def in_state(harness: Harness, state: str) -> int:
    with contextlib.closing(sqlite3.connect(harness.db_path)) as db:
        return int(db.execute("SELECT COUNT(*) FROM messages WHERE state = ?", (state,)).fetchone()[0])


def dead_letters(harness: Harness) -> int:
    return in_state(harness, "dead")


async def talked(harness: Harness, **settings: object) -> FakeOrder:
    """An order watched and talked in; Bybit's unread counts say nothing (the merchant has the app open)."""
    harness.telegram.chats[TEAM_CHAT].is_forum = True
    harness.bybit.read_in_app_at_once = True
    order = harness.bybit.add_order()
    await harness.start(**settings)
    assert "Watching" in await harness.reply_to(f"/watch {order.id}")
    harness.bybit.post_message(order.id, "f 01 hello")
    await harness.wait_text("f 01 hello")
    return order


async def test_a_buyer_who_writes_right_after_the_cancel_is_heard_before_the_order_is_retired(
    harness: Harness,
) -> None:
    """Before: a finished order was read at its idle interval (here up to 600 s) and retired after the grace
    without another read, so "I already paid!" written just after the cancel was never forwarded."""
    order = await talked(harness, **SLOW)
    await harness.stop()  # after a restart the chat, read before, falls due at random within the ceiling
    await harness.start(**SLOW)
    order.status = 40
    harness.bybit.post_message(order.id, "f 02 I already paid!")
    await harness.wait_text("f 02 I already paid!")
    await harness.telegram.wait_for(lambda: not active_orders(harness))
    topic = next(iter(harness.telegram.chats[TEAM_CHAT].topics.values()))
    await harness.telegram.wait_for(lambda: topic.closed)
    status = await harness.reply_to("/status")
    assert "0 pending, 0 held," in status and "no longer watched" not in status


async def test_a_message_read_while_its_order_is_unwatched_is_still_delivered(harness: Harness) -> None:
    """Before: a read under way as the order was unwatched recorded the message, and nothing ever sent it."""
    order = await talked(harness)
    reads = sum(r.path == LISTPAGE for r in harness.bybit.requests)
    harness.bybit.delay = 1.5  # the next read is answered after the /unwatch
    harness.bybit.post_message(order.id, "f 02 written as you unwatched")
    await harness.telegram.wait_for(lambda: sum(r.path == LISTPAGE for r in harness.bybit.requests) > reads)
    assert "Stopped" in await harness.reply_to(f"/unwatch {order.id}")
    harness.bybit.delay = 0
    await harness.wait_text("f 02 written as you unwatched")
    await harness.telegram.wait_for(lambda: not in_state(harness, "pending"))  # (recorded just after the post)
    assert "no longer watched" not in await harness.reply_to("/status")


async def test_retry_sends_the_dead_letters_of_an_order_no_longer_watched(harness: Harness) -> None:
    """Before: /retry put them back in the queue, where nothing sent messages of an unwatched order."""
    order = await talked(harness)
    harness.telegram.inject_error(400, "Bad Request: MESSAGE_EMPTY_OR_STRANGE", method="sendMessage")
    harness.bybit.post_message(order.id, "f 02 refused once")
    await harness.telegram.wait_for(lambda: dead_letters(harness) == 1)
    assert "Stopped" in await harness.reply_to(f"/unwatch {order.id}")
    assert "Sending 1" in await harness.reply_to("/retry")
    await harness.wait_text("f 02 refused once")
    assert "0 dead-lettered" in await harness.reply_to("/status")
