"""/send's arguments: an order id watched here picks the order; in an order's topic any other text is the text."""

from __future__ import annotations

from bridge.sandbox.fake_bybit import FakeOrder
from tests.harness import TEAM_CHAT, Harness


def yours(harness: Harness, order: FakeOrder) -> list[str]:
    """Your messages in the order's Bybit chat, oldest first."""
    return [str(m["message"]) for m in harness.bybit.messages(order.id) if m.get("userId") == "10001"]


async def test_a_number_that_is_not_a_watched_order_is_text_in_an_orders_topic(harness: Harness) -> None:
    harness.telegram.chats[TEAM_CHAT].is_forum = True
    order = harness.bybit.add_order()
    other = harness.bybit.add_order(counterparty_nick="SellerEve")
    harness.bybit.post_message(order.id, "b 01 I paid")
    await harness.start()
    assert "Watching" in await harness.reply_to(f"/watch {order.id} {other.id}")
    await harness.wait_text("b 01 I paid")
    topic = next(s.thread_id for s in harness.telegram.sent_to(TEAM_CHAT) if "b 01" in (s.plain or ""))

    harness.say("/send 100000 RUB received", thread_id=topic)
    harness.say(f"/send {other.id} to the other order", thread_id=topic)  # a watched order's id still picks it
    await harness.telegram.wait_for(lambda: len(harness.telegram.reactions) == 2)
    usage = await harness.reply_to("/send 100000 RUB received")  # outside a topic: which order?

    assert yours(harness, order) == ["100000 RUB received"]
    assert yours(harness, other) == ["to the other order"]
    assert usage.startswith("Usage: /send [ORDER_ID] TEXT")
