"""The session chat Bybit serves today: one read per counterparty, attribution that never drops, re-watching."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import sqlite3
import time

import pytest

from bridge.sandbox.fake_bybit import FakeBybit, FakeOrder
from tests.harness import TEAM_CHAT, Harness

SESSION_LIST = "/v5/p2p/chat/message/listpage_v1"
SESSION_ID = "/v5/p2p/chat/session/getSessionId"
OPEN_ORDERS = "/v5/p2p/order/pending/simplifyList"
STATUS_APPEALING = 30


def body_lines(harness: Harness, prefix: str) -> list[str]:
    return [line for text in harness.texts() for line in text.splitlines() if line.startswith(prefix)]


def posts_with(harness: Harness, needle: str) -> list[str]:
    return [text for text in harness.texts() if needle in text]


def stored(harness: Harness, text: str) -> tuple[str, str] | None:
    """(order id, state) the store holds for the message with this text."""
    with contextlib.closing(sqlite3.connect(harness.db_path)) as db:
        row = db.execute(
            "SELECT order_id, state FROM messages WHERE json_extract(payload, '$.message') = ?", (text,)
        ).fetchone()
    return (str(row[0]), str(row[1])) if row else None


def backfilled(harness: Harness, order_id: str) -> bool:
    with contextlib.closing(sqlite3.connect(harness.db_path)) as db:
        row = db.execute("SELECT backfilled FROM orders WHERE order_id = ?", (order_id,)).fetchone()
    return bool(row and row[0])


def second_order_of(bybit: FakeBybit, first: FakeOrder) -> FakeOrder:
    """The same counterparty opens another order, ten minutes after ``first``."""
    first.create_ms -= 10 * 60_000
    return bybit.add_order(counterparty_nick=first.target_nick)


async def test_a_watched_order_keeps_getting_messages_when_its_counterparty_opens_another(harness: Harness) -> None:
    bybit = harness.bybit
    bybit.retire_order_chat()
    appeal = bybit.add_order(counterparty_nick="BuyerBob", status=STATUS_APPEALING)
    newer = second_order_of(bybit, appeal)
    bybit.post_message(appeal.id, "a 01 I paid, see receipt", created_ms=bybit.server_time_ms() - 5 * 60_000)
    for n in range(40):  # other buyers' orders push Bob's past the first page of the open-order list
        bybit.add_order(counterparty_nick=f"Other{n}")
    await harness.start()
    assert "Watching" in await harness.reply_to(f"/watch {appeal.id}")
    await harness.wait_text("a 01")

    bybit.post_message(newer.id, "a 02 about my new order")
    bybit.post_message(appeal.id, "a 03 still waiting on the appeal", created_ms=bybit.server_time_ms())
    await harness.wait_text("a 03")
    assert body_lines(harness, "a ") == [
        "a 01 I paid, see receipt",
        "a 02 about my new order",
        "a 03 still waiting on the appeal",
    ]
    [about_newer] = posts_with(harness, "a 02")
    assert f"likely about order {newer.id}, not watched" in about_newer  # found on the list's second page
    assert "likely about" not in posts_with(harness, "a 01")[0]  # written before the new order existed


async def test_one_session_read_per_counterparty_whatever_its_orders(harness: Harness) -> None:
    bybit = harness.bybit
    bob_first = bybit.add_order(counterparty_nick="BuyerBob")
    bob_second = second_order_of(bybit, bob_first)
    eve = bybit.add_order(counterparty_nick="SellerEve", side=0)
    await harness.start(bybit_chat_api="session")
    assert (await harness.reply_to(f"/watch {bob_first.id} {bob_second.id} {eve.id}")).count("Watching") == 3
    bybit.post_message(eve.id, "r 01")
    await harness.wait_text("r 01")

    start = len(bybit.requests)
    bybit.post_message(bob_second.id, "r 02")
    bybit.post_message(bob_first.id, "r 03")
    await harness.wait_text("r 03")
    await harness.telegram.wait_for(
        lambda: sum(1 for r in bybit.requests[start:] if r.path == OPEN_ORDERS) >= 5, timeout=20
    )
    window = bybit.requests[start:]
    assert len({r.body["sessionId"] for r in window if r.path == SESSION_LIST}) == 2  # Bob's two orders: one chat
    assert bybit.calls_to(SESSION_ID) == 2  # session ids are asked once per counterparty
    assert all(r.body["page"] == 1 for r in window if r.path == OPEN_ORDERS)  # one page holds them all
    assert body_lines(harness, "r ") == ["r 01", "r 02", "r 03"]


async def test_rewatching_delivers_the_gap_within_the_backfill_limit(harness: Harness) -> None:
    bybit = harness.bybit
    bybit.retire_order_chat()
    order = bybit.add_order()
    bybit.post_message(order.id, "g 01")
    await harness.start(backfill_limit=2)
    await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("g 01")
    assert "Stopped" in await harness.reply_to(f"/unwatch {order.id}")
    bybit.post_message(order.id, "g 02")
    await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("g 02")
    assert "Stopped" in await harness.reply_to(f"/unwatch {order.id}")
    for n in range(3, 7):
        bybit.post_message(order.id, f"g {n:02d}")
    reply = await harness.reply_to(f"/watch {order.id}")
    assert "again" in reply and "2" in reply
    await harness.wait_text("g 06")
    bybit.post_message(order.id, "g 07")
    await harness.wait_text("g 07")
    assert body_lines(harness, "g ") == ["g 01", "g 02", "g 05", "g 06", "g 07"]


async def test_rewatching_in_order_mode_delivers_the_gap_too(harness: Harness) -> None:
    bybit = harness.bybit
    order = bybit.add_order()
    await harness.start(backfill_limit=3)
    await harness.reply_to(f"/watch {order.id}")
    bybit.post_message(order.id, "h 01")
    await harness.wait_text("h 01")
    await harness.reply_to(f"/unwatch {order.id}")
    bybit.post_message(order.id, "h 02")
    bybit.post_message(order.id, "h 03")
    await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("h 03")
    assert body_lines(harness, "h ") == ["h 01", "h 02", "h 03"]


async def test_watching_an_order_takes_over_its_messages_still_waiting_under_a_sibling(harness: Harness) -> None:
    bybit = harness.bybit
    bybit.retire_order_chat()
    older = bybit.add_order(counterparty_nick="BuyerBob")
    newer = second_order_of(bybit, older)
    await harness.start()
    await harness.reply_to(f"/watch {older.id}")
    bybit.post_message(older.id, "w 01")
    await harness.wait_text("w 01")

    harness.telegram.restrict_bot(TEAM_CHAT)  # nothing can be delivered for now
    bybit.post_message(newer.id, "w 02 for the new order")
    await harness.telegram.wait_for(lambda: stored(harness, "w 02 for the new order") == (older.id, "pending"))
    harness.say(f"/watch {newer.id}")
    await harness.telegram.wait_for(lambda: stored(harness, "w 02 for the new order") == (newer.id, "pending"))
    harness.telegram.unrestrict_bot(TEAM_CHAT)
    await harness.wait_text("w 02", timeout=20)
    [post] = posts_with(harness, "w 02")
    assert f"order …{newer.id[-6:]}" in post and "likely about" not in post


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_orders_and_watches_of_one_counterparty_lose_no_message(seed: int, harness: Harness) -> None:
    """Orders open, get watched and talk in random order: every message after the first watch arrives, once."""
    rng = random.Random(seed)
    bybit = harness.bybit
    bybit.retire_order_chat()
    orders = [bybit.add_order(counterparty_nick="BuyerBob")]
    await harness.start()
    watched: set[str] = set()
    expected: list[str] = []
    for step in range(24):
        roll = rng.random()
        if roll < 0.15 and len(orders) < 5:
            orders.append(bybit.add_order(counterparty_nick="BuyerBob"))
        elif roll < 0.35 or not watched:
            order = rng.choice(orders)
            if order.id not in watched:
                watched.add(order.id)
                harness.say(f"/watch {order.id}")
                await harness.telegram.wait_for(functools.partial(backfilled, harness, order.id))
        else:
            text = f"p {seed}.{step:02d}"
            bybit.post_message(rng.choice(orders).id, text)
            expected.append(text)
        await asyncio.sleep(rng.random() * 0.3)
    for text in expected:
        await harness.wait_text(text)
    assert sorted(body_lines(harness, "p ")) == sorted(expected)


async def test_session_ids_are_remembered_across_a_restart(harness: Harness) -> None:
    bybit = harness.bybit
    bybit.retire_order_chat()
    order = bybit.add_order()
    await harness.start()
    await harness.reply_to(f"/watch {order.id}")
    bybit.post_message(order.id, "k 01")
    await harness.wait_text("k 01")
    await harness.stop()
    asked = bybit.calls_to(SESSION_ID)
    await harness.start()
    bybit.post_message(order.id, "k 02")
    await harness.wait_text("k 02")
    assert bybit.calls_to(SESSION_ID) == asked == 1


def list_quiet_for(bybit: FakeBybit, seconds: float) -> bool:
    """Whether the open-order list was last asked for at least ``seconds`` ago."""
    asked = [r.time for r in bybit.requests if r.path == OPEN_ORDERS]
    return bool(asked) and time.monotonic() - asked[-1] >= seconds


async def test_the_first_words_of_a_counterpartys_new_order_are_never_silently_put_under_the_older_one(
    harness: Harness,
) -> None:
    """Before: the open-order list (read every 30 s here) did not show the new order yet, so the buyer's first
    words went to the watched older order without the "likely about" line."""
    bybit = harness.bybit
    bybit.retire_order_chat()
    older = bybit.add_order(counterparty_nick="BuyerBob")
    await harness.start(poll_interval=30.0)
    assert "Watching" in await harness.reply_to(f"/watch {older.id}")
    bybit.post_message(older.id, "n 01 hello")
    await harness.wait_text("n 01 hello")
    await harness.telegram.wait_for(lambda: list_quiet_for(bybit, 1.0))  # its reads after the watch are done
    newer = bybit.add_order(counterparty_nick="BuyerBob")
    bybit.post_message(newer.id, "A new order was created.", sender="system")
    bybit.post_message(newer.id, "n 02 paid for the new one")
    await harness.wait_text("n 02 paid for the new one")
    [post] = posts_with(harness, "n 02")
    assert f"likely about order {newer.id}, not watched" in post
