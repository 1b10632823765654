"""Status alerts, the card kept current, clean-up after the grace period, and auto-watch."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from bridge.bybit import BybitClient
from bridge.core import StatusTracker
from bridge.sandbox.fake_bybit import FakeBybit, FakeOrder
from bridge.store import Store
from tests.harness import TEAM_CHAT, Harness

ORDER_INFO = "/v5/p2p/order/info"
LIST_NEWS = 4.0  # seconds: the open-order list's next read (2 s apart here), then the alert (not the 5 s status round)


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
