"""Status alerts, the card kept current, clean-up after the grace period, and auto-watch."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from pathlib import Path

import pytest

from bridge.bybit import BybitClient
from bridge.core import StatusTracker
from bridge.core.poller import STATUS_PERIOD
from bridge.sandbox.fake_bybit import FakeBybit, FakeOrder
from bridge.store import Store
from tests.harness import TEAM_CHAT, Harness

ORDER_INFO = "/v5/p2p/order/info"
LIST_NEWS = 4.5  # seconds: the open-order list's next read (2 s apart here), then the alert (not the 5 s status round)


def alerts(harness: Harness) -> list[str]:
    return [line for text in harness.texts() for line in text.splitlines() if line.startswith("🔔 Order status:")]


def active_orders(harness: Harness) -> list[str]:
    with contextlib.closing(sqlite3.connect(harness.db_path)) as db:
        return [str(row[0]) for row in db.execute("SELECT order_id FROM orders WHERE active = 1")]


def card_edits(harness: Harness) -> list[str]:
    return [text for _, _, text in harness.telegram.edits]


async def watched(harness: Harness, api: str, **settings: object) -> FakeOrder:
    harness.telegram.chats[TEAM_CHAT].is_forum = True
    order = harness.bybit.add_order()
    if api == "session":
        harness.bybit.retire_order_chat()
    await harness.start(**settings)
    assert "Watching" in await harness.reply_to(f"/watch {order.id}")
    harness.bybit.post_message(order.id, "s 01 hello")
    await harness.wait_text("s 01 hello")
    return order


@pytest.mark.parametrize("api", ["order", "session"])
async def test_paid_then_completed_alerts_edit_the_card_and_retire_the_order(api: str, harness: Harness) -> None:
    order = await watched(harness, api, unwatch_grace=1.0)
    order.status = 20
    harness.bybit.post_message(order.id, "The buyer has marked the order as paid.", sender="system")
    await harness.telegram.wait_for(
        lambda: alerts(harness) == ["🔔 Order status: paid: waiting for the seller to release"]
    )
    await harness.telegram.wait_for(lambda: any("Status: paid" in text for text in card_edits(harness)))

    order.status = 50
    harness.bybit.post_message(order.id, "The seller has released the coins.", sender="system")
    harness.bybit.post_message(order.id, "s 02 thanks, bye")
    await harness.telegram.wait_for(lambda: alerts(harness)[-1:] == ["🔔 Order status: completed"])
    await harness.wait_text("s 02 thanks, bye")
    topic = next(iter(harness.telegram.chats[TEAM_CHAT].topics.values()))
    await harness.telegram.wait_for(lambda: topic.closed, timeout=15)
    assert "No orders are watched here" in await harness.reply_to("/list")
    assert any("Status: completed" in text for text in card_edits(harness))


async def test_an_open_orders_status_comes_from_the_open_order_list_without_extra_reads(harness: Harness) -> None:
    order = await watched(harness, "session")
    reads = harness.bybit.calls_to(ORDER_INFO)
    order.status = 30
    await harness.telegram.wait_for(lambda: alerts(harness) == ["🔔 Order status: under appeal"], timeout=LIST_NEWS)
    assert harness.bybit.calls_to(ORDER_INFO) == reads


async def test_a_cancelled_order_leaves_the_open_order_list_and_is_retired(harness: Harness) -> None:
    order = await watched(harness, "session", unwatch_grace=0.5)
    order.status = 40  # leaves the open-order list: one read of its detail tells why, at once
    await harness.telegram.wait_for(lambda: alerts(harness) == ["🔔 Order status: cancelled"], timeout=LIST_NEWS)
    await harness.telegram.wait_for(lambda: not active_orders(harness))
    assert "No orders" in await harness.reply_to("/list")


async def test_auto_watch_brings_new_orders_without_a_command(harness: Harness) -> None:
    harness.telegram.chats[TEAM_CHAT].is_forum = True
    harness.bybit.retire_order_chat()
    await harness.start(auto_watch=True)
    order = harness.bybit.add_order(counterparty_nick="NewBuyer")
    harness.bybit.post_message(order.id, "a 01 hi, new order")
    await harness.wait_text("a 01 hi, new order")
    topics = harness.telegram.chats[TEAM_CHAT].topics
    assert any(order.id[-6:] in topic.name for topic in topics.values())
    assert "Stopped" in await harness.reply_to(f"/unwatch {order.id}")
    harness.bybit.post_message(order.id, "a 02 after unwatch")
    second = harness.bybit.add_order(counterparty_nick="OtherBuyer")
    harness.bybit.post_message(second.id, "a 03 second order")
    await harness.wait_text("a 03 second order")
    assert "a 02 after unwatch" not in " ".join(harness.texts())  # an unwatched order stays unwatched


async def test_auto_watch_asks_again_after_bybit_could_not_answer(harness: Harness) -> None:
    harness.bybit.retire_order_chat()
    order = harness.bybit.add_order(counterparty_nick="PatientBuyer")
    harness.bybit.inject("server_error", times=5, path=ORDER_INFO)  # the client's five tries all fail
    await harness.start(auto_watch=True)
    harness.bybit.post_message(order.id, "w 01 still here")
    await harness.wait_text("w 01 still here", timeout=30)
    assert order.id in active_orders(harness)


async def test_an_unknown_status_is_told_by_its_number_and_the_other_orders_go_on(harness: Harness) -> None:
    """Before: ``OrderStatus(120)`` raised inside the round, so no other order's change was ever seen."""
    strange = await watched(harness, "order")
    other = harness.bybit.add_order(counterparty_nick="OtherBuyer")
    assert "Watching" in await harness.reply_to(f"/watch {other.id}")
    strange.status = 120  # a code this version does not know: it leaves the open-order list, so it is read
    other.status = 40
    await harness.telegram.wait_for(
        lambda: sorted(alerts(harness)) == ["🔔 Order status: cancelled", "🔔 Order status: status 120"],
        timeout=LIST_NEWS + 5,
    )
    assert strange.id in active_orders(harness)  # not final: still watched


async def test_a_status_change_is_kept_only_together_with_its_alert(harness: Harness) -> None:
    """Before: the new status was committed first, so when its alert could not be written it was never told."""
    order = await watched(harness, "order")
    with contextlib.closing(sqlite3.connect(harness.db_path)) as db:
        db.execute(
            """CREATE TRIGGER refuse_alerts BEFORE INSERT ON messages WHEN NEW.msg_id LIKE 'status-%'
               BEGIN SELECT RAISE(ABORT, 'injected: database or disk is full'); END"""
        )
        db.commit()
    order.status = 30
    await until_status_says(harness, "IntegrityError")
    assert stored_status(harness, order.id) == 10  # the change went with its alert
    with contextlib.closing(sqlite3.connect(harness.db_path)) as db:
        db.execute("DROP TRIGGER refuse_alerts")
        db.commit()
    retried = STATUS_PERIOD + LIST_NEWS  # a failed status round is tried again at the next one
    await harness.telegram.wait_for(lambda: alerts(harness) == ["🔔 Order status: under appeal"], timeout=retried)
    assert stored_status(harness, order.id) == 30


def stored_status(harness: Harness, order_id: str) -> int:
    with contextlib.closing(sqlite3.connect(harness.db_path)) as db:
        (info,) = db.execute("SELECT info FROM orders WHERE order_id = ?", (order_id,)).fetchone()
    return int(json.loads(info)["status"])


async def until_status_says(harness: Harness, text: str, timeout: float = 10) -> None:
    """Ask /status until its answer holds ``text``."""
    deadline = time.monotonic() + timeout
    while text not in await harness.reply_to("/status"):
        assert time.monotonic() < deadline, f"/status never said {text!r}"
        await asyncio.sleep(0.1)


async def test_status_check_times_are_kept_for_watched_orders_only(fake_bybit: FakeBybit, tmp_path: Path) -> None:
    orders = [fake_bybit.add_order(), fake_bybit.add_order(counterparty_nick="SellerEve")]
    async with (
        await Store.open(tmp_path / "s.db") as store,
        BybitClient(api_key=fake_bybit.api_key, api_secret=fake_bybit.api_secret, base_url=fake_bybit.url) as client,
    ):
        for order in orders:
            await store.orders.watch(await client.order_info(order.id), TEAM_CHAT, None, 1)
        tracker = StatusTracker(store, client, grace=600)
        await tracker.round(await store.orders.active(), None, ())
        assert tracker._checked.keys() == {order.id for order in orders}  # the bound is tested

        await store.orders.unwatch(orders[1].id)
        await tracker.round(await store.orders.active(), None, ())
        assert tracker._checked.keys() == {orders[0].id}
