"""Bybit's two chat APIs: the order-scoped one, the session-based one, and the switch between them."""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import sqlite3

import pytest

from bridge.sandbox.fake_bybit import FakeBybit, FakeOrder, Retirement
from tests.harness import Harness

ORDER_LIST = "/v5/p2p/order/message/listpage"
SESSION_LIST = "/v5/p2p/chat/message/listpage_v1"
SESSION_ID = "/v5/p2p/chat/session/getSessionId"
CLOSED = 912200387
_HEADER = re.compile(r" · order …(\d{6}) · ")
_NOTE = re.compile(r"likely about order (\d+), not watched")


def body_lines(harness: Harness, prefix: str) -> list[str]:
    return [line for text in harness.texts() for line in text.splitlines() if line.startswith(prefix)]


def headed_lines(harness: Harness, prefix: str) -> list[tuple[str, str]]:
    """(header line above it, line) for every forwarded line starting with ``prefix``; joined posts included."""
    found: list[tuple[str, str]] = []
    for text in harness.texts():
        header = ""
        for line in text.splitlines():
            if _HEADER.search(line):
                header = line
            elif line.startswith(prefix):
                found.append((header, line))
    return found


def lines_by_order(harness: Harness, prefix: str) -> list[tuple[str, str]]:
    """(short order id from the header above it, line) for every forwarded line starting with ``prefix``."""
    return [(m.group(1) if (m := _HEADER.search(h)) else "", line) for h, line in headed_lines(harness, prefix)]


def backfilled(harness: Harness, order_id: str) -> bool:
    """Whether the bridge has fetched the order's history (its store says so)."""
    with contextlib.closing(sqlite3.connect(harness.db_path)) as db:
        row = db.execute("SELECT backfilled FROM orders WHERE order_id = ?", (order_id,)).fetchone()
    return bool(row and row[0])


def list_calls(bybit: FakeBybit, path: str, ok_only: bool = True) -> int:
    return sum(1 for r in bybit.requests if r.path == path and (not ok_only or r.ret_code == 0))


async def test_switch_to_session_api_when_bybit_retires_the_old_one(harness: Harness) -> None:
    bybit = harness.bybit
    order = bybit.add_order()
    for n in range(1, 4):
        bybit.post_message(order.id, f"c {n:02d}")
    await harness.start()
    await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("c 03")
    bybit.post_message(order.id, "c 04")
    await harness.wait_text("c 04")
    assert list_calls(bybit, ORDER_LIST) >= 2 and list_calls(bybit, SESSION_LIST) == 0

    bybit.retire_order_chat()
    for n in range(5, 9):
        bybit.post_message(order.id, f"c {n:02d}")
    await harness.wait_text("c 08")
    assert list_calls(bybit, ORDER_LIST, ok_only=False) > list_calls(bybit, ORDER_LIST)  # saw 912200387
    assert list_calls(bybit, SESSION_LIST) >= 1 and bybit.calls_to(SESSION_ID) >= 1
    bybit.post_message(order.id, "c 09")
    await harness.wait_text("c 09")
    assert body_lines(harness, "c ") == [f"c {n:02d}" for n in range(1, 10)]


async def test_switch_is_remembered_across_a_restart(harness: Harness) -> None:
    bybit = harness.bybit
    order = bybit.add_order()
    bybit.post_message(order.id, "r 01")
    await harness.start()
    await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("r 01")
    bybit.retire_order_chat()
    bybit.post_message(order.id, "r 02")
    await harness.wait_text("r 02")
    await harness.stop()

    order_calls = bybit.calls_to(ORDER_LIST)
    session_calls = list_calls(bybit, SESSION_LIST)
    bybit.post_message(order.id, "r 03")  # while the bridge is down
    await harness.start()
    await harness.wait_text("r 03")
    bybit.post_message(order.id, "r 04")
    await harness.wait_text("r 04")
    assert bybit.calls_to(ORDER_LIST) == order_calls  # straight to the session API
    assert list_calls(bybit, SESSION_LIST) > session_calls
    assert body_lines(harness, "r ") == ["r 01", "r 02", "r 03", "r 04"]


async def test_session_api_forced_from_the_start_with_backfill(harness: Harness) -> None:
    bybit = harness.bybit
    order = bybit.add_order(counterparty_nick="BuyerBob")
    bybit.post_message(order.id, "Order created", sender="system")
    for n in range(1, 9):
        bybit.post_message(order.id, f"s {n:02d}", sender="self" if n == 4 else "counterparty")
    await harness.start(bybit_chat_api="session", backfill_limit=5)
    await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("s 08")
    bybit.post_message(order.id, "s 09")
    await harness.wait_text("s 09")

    assert bybit.calls_to(ORDER_LIST) == 0
    assert list_calls(bybit, SESSION_LIST) >= 2
    assert body_lines(harness, "s ") == ["s 04", "s 05", "s 06", "s 07", "s 08", "s 09"]
    senders = {line: header for header, line in headed_lines(harness, "s ")}
    assert senders["s 04"].startswith("You (seller) TeamMerchant")
    assert senders["s 05"].startswith("Buyer (counterparty) BuyerBob")


async def test_order_api_forced_and_retired_keeps_running(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    bybit = harness.bybit
    order = bybit.add_order()
    bybit.post_message(order.id, "o 01")
    await harness.start(bybit_chat_api="order")
    await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("o 01")

    bybit.retire_order_chat()
    bybit.post_message(order.id, "o 02")
    await harness.telegram.wait_for(
        lambda: sum(1 for r in bybit.requests if r.path == ORDER_LIST and r.ret_code == CLOSED) >= 4
    )
    assert "Watching 1 order(s)" in await harness.reply_to("/list")  # the bot still answers
    assert bybit.calls_to(SESSION_LIST) == 0  # forced: no switch

    errors = [r for r in caplog.records if str(CLOSED) in r.getMessage() and r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]  # logged once, not every poll
    assert order.id in errors[0].getMessage()
    assert not [r for r in caplog.records if "crashed" in r.getMessage()]
    await harness.stop()  # and it stops cleanly


def two_orders_one_buyer(bybit: FakeBybit) -> tuple[FakeOrder, FakeOrder]:
    """BuyerBob opened an order ten minutes ago and a second one now: one chat session for both."""
    older = bybit.add_order(counterparty_nick="BuyerBob")
    older.create_ms -= 10 * 60_000
    newer = bybit.add_order(counterparty_nick="BuyerBob")
    assert older.target_mask_id == newer.target_mask_id
    return older, newer


def placed_lines(harness: Harness, older: FakeOrder, newer: FakeOrder) -> list[tuple[str, str]]:
    names = {older.id[-6:]: "older", newer.id[-6:]: "newer"}
    return [(names.get(order, order), line) for order, line in lines_by_order(harness, "t ")]


async def test_two_watched_orders_with_one_counterparty_in_session_mode(harness: Harness) -> None:
    bybit = harness.bybit
    older, newer = two_orders_one_buyer(bybit)
    await harness.start(bybit_chat_api="session")
    reply = await harness.reply_to(f"/watch {older.id} {newer.id}")
    assert reply.count("Watching") == 2
    listing = await harness.reply_to("/list")
    assert older.id in listing and newer.id in listing

    five_minutes_ago = bybit.server_time_ms() - 5 * 60_000
    bybit.post_message(older.id, "t old 1", created_ms=five_minutes_ago)  # between the two orders' creation
    bybit.post_message(older.id, "t old 2", created_ms=five_minutes_ago + 1)
    bybit.post_message(newer.id, "t new 1")
    await harness.wait_text("t new 1")
    bybit.post_message(newer.id, "t new 2")
    await harness.wait_text("t new 2")
    assert bybit.calls_to(ORDER_LIST) == 0
    assert placed_lines(harness, older, newer) == [
        ("older", "t old 1"),
        ("older", "t old 2"),
        ("newer", "t new 1"),
        ("newer", "t new 2"),
    ]


@pytest.mark.parametrize("first", ["older", "newer"])
async def test_history_of_two_orders_with_one_counterparty_watched_one_after_the_other(
    first: str, harness: Harness
) -> None:
    bybit = harness.bybit
    older, newer = two_orders_one_buyer(bybit)
    five_minutes_ago = bybit.server_time_ms() - 5 * 60_000
    for n in range(1, 4):  # chatted about the older order five minutes ago
        bybit.post_message(older.id, f"t old {n}", created_ms=five_minutes_ago + n)
    bybit.post_message(newer.id, "t new 1")
    await harness.start(bybit_chat_api="session")

    for order in (older, newer) if first == "older" else (newer, older):
        assert "Watching" in await harness.reply_to(f"/watch {order.id}")
        await harness.telegram.wait_for(functools.partial(backfilled, harness, order.id))
    bybit.post_message(newer.id, "t new 2")
    await harness.wait_text("t new 2")  # delivered after everything recorded before it
    placed = noted_lines(harness, "t ")
    assert sorted(line for _, _, line in placed) == ["t new 1", "t new 2", "t old 1", "t old 2", "t old 3"]  # once
    for where, about, line in placed:  # under its own order, or under the other one saying which it is about
        own = older.id if "old" in line else newer.id
        assert where == own[-6:] or about == own, (where, about, line)


def noted_lines(harness: Harness, prefix: str) -> list[tuple[str, str, str]]:
    """(short id of the order it was posted under, full id of the order it says it is about or "", line)."""
    found: list[tuple[str, str, str]] = []
    for text in harness.texts():
        where, about = "", ""
        for line in text.splitlines():
            if match := _HEADER.search(line):
                where, about = match.group(1), ""
            elif match := _NOTE.search(line):
                about = match.group(1)
            elif line.startswith(prefix):
                found.append((where, about, line))
    return found


@pytest.mark.parametrize("how", ["code", "gone", "not json", "path not found"])
async def test_at_the_switch_each_counterparty_is_read_back_to_every_orders_newest_known_message(
    harness: Harness, how: Retirement
) -> None:
    """Before: the first session read stopped at the newest known message of any of the counterparty's orders,
    so a message of another order written before it, not yet read on the order API, was never forwarded; and only
    912200387 switched (a removed path was retried as unavailable for ever)."""
    bybit = harness.bybit
    bybit.read_in_app_at_once = True  # Bybit's unread counts bring no news but where the test says
    first, second = bybit.add_order(counterparty_nick="Bob"), bybit.add_order(counterparty_nick="Bob")
    bybit.post_message(second.id, "r 01 second order")
    bybit.post_message(first.id, "r 02 first order")
    await harness.start()
    for order in (first, second):
        assert "Watching" in await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("r 01")
    await harness.wait_text("r 02")
    await harness.stop()
    await harness.start(poll_interval_max=600)  # chats read before wait for news: Bybit's unread counts bring it

    bybit.post_message(second.id, "r 03 second order, unread")  # no news of it: its chat is not read for now
    bybit.read_in_app_at_once = False
    bybit.post_message(first.id, "r 04 first order, read")
    await harness.wait_text("r 04")
    bybit.retire_order_chat(how)
    bybit.post_message(first.id, "r 05 first order, after the switch")
    await harness.wait_text("r 05", timeout=20)
    await harness.wait_text("r 03")
    assert body_lines(harness, "r ")[2:] in (
        ["r 04 first order, read", "r 03 second order, unread", "r 05 first order, after the switch"],
        ["r 04 first order, read", "r 05 first order, after the switch", "r 03 second order, unread"],
    )
