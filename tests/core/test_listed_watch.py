"""/watch of orders the open-order list shows: watched from the list, their details read after their histories."""

from __future__ import annotations

import pytest

from bridge.sandbox.fake_bybit import FakeOrder
from bridge.sandbox.fake_bybit.constants import READS_PER_SECOND
from tests.harness import TEAM_CHAT, Harness

ORDER_INFO = "/v5/p2p/order/info"
FIRST_PAGES = ("/v5/p2p/order/message/listpage", "/v5/p2p/chat/message/listpage_v1")
ORDERS = 6


def cards(harness: Harness) -> list[str]:
    """Every card text the bot showed: posted, then as edited."""
    posted = [text for text in harness.texts() if text.startswith("🧾 Order")]
    return posted + [text for _, _, text in harness.telegram.edits]


def card_of(harness: Harness, order: FakeOrder) -> str:
    """The order's card as shown last."""
    shown = [text for text in cards(harness) if f"Order id: {order.id}" in text]
    return shown[-1] if shown else ""


async def completed(harness: Harness, order: FakeOrder, line: str) -> None:
    await harness.telegram.wait_for(lambda: line in card_of(harness, order), timeout=30)


async def start_watched(harness: Harness, orders: list[FakeOrder], api: str) -> None:
    harness.telegram.chats[TEAM_CHAT].is_forum = True
    for order in orders:
        harness.bybit.post_message(order.id, f"history of {order.id}")
    if api == "session":
        harness.bybit.retire_order_chat()
    await harness.start(poll_interval_max=30)
    harness.say("/watch " + " ".join(order.id for order in orders))
    for order in orders:
        await harness.wait_text(f"history of {order.id}", timeout=20)


@pytest.mark.parametrize("api", ["order", "session"])
async def test_listed_orders_are_watched_without_their_details_which_come_after_the_histories(
    api: str, harness: Harness
) -> None:
    harness.bybit.delay = 0.05  # Bybit from afar, its budget enforced
    orders = [harness.bybit.add_order(counterparty_nick=f"Buyer{n:02d}", payment="Tinkoff") for n in range(ORDERS)]
    await start_watched(harness, orders, api)

    first_pages = [r.time for r in harness.bybit.requests if r.path in FIRST_PAGES]
    details = [r.time for r in harness.bybit.requests if r.path == ORDER_INFO]
    assert not details or min(details) > max(first_pages[:ORDERS])  # no detail read before the histories
    assert all("Payment: not read yet" in text for text in cards(harness)[:ORDERS])  # (the first cards)
    for order in orders:  # each card is completed once its detail is read
        await completed(harness, order, "Payment: Tinkoff")
        assert f"Buyer: {order.target_nick}\nStatus: waiting for the buyer to pay" in card_of(harness, order)
    assert harness.bybit.calls_to(ORDER_INFO) == ORDERS
    assert harness.bybit.rate_limited_answers == 0
    assert harness.bybit.reads_per_second == READS_PER_SECOND


@pytest.mark.parametrize("api", ["order", "session"])
async def test_a_listed_watch_tells_your_messages_from_theirs(api: str, harness: Harness) -> None:
    order = harness.bybit.add_order(counterparty_nick="BuyerBea")
    await start_watched(harness, [order], api)
    harness.bybit.post_message(order.id, "l 01 sent from the app", sender="self")
    harness.bybit.post_message(order.id, "l 02 from the buyer")
    await harness.wait_text("l 02 from the buyer")
    posts = {text.split("\n")[-1]: text for text in harness.texts() if "l 0" in text}
    assert posts["l 01 sent from the app"].startswith("You (seller) TeamMerchant")
    assert posts["l 02 from the buyer"].startswith("Buyer (counterparty) BuyerBea")


async def test_an_order_not_listed_is_watched_from_its_detail(harness: Harness) -> None:
    listed, done = harness.bybit.add_order(counterparty_nick="BuyerAnn"), harness.bybit.add_order(status=50)
    await start_watched(harness, [listed, done], "order")
    await completed(harness, done, "Payment: Sberbank")
    await completed(harness, listed, "Payment: Sberbank")
    assert "Status: completed" in card_of(harness, done)
    assert harness.bybit.calls_to(ORDER_INFO) >= 2
