"""One message's trouble never stops its chat: whatever fails while delivering it stays with it."""

from __future__ import annotations

from bridge.sandbox.fake_bybit import FakeBybit, FakeOrder
from tests.harness import TEAM_CHAT, Harness

MESSAGES_PATH = "/v5/p2p/order/message/listpage"


def reads_of(bybit: FakeBybit, order: FakeOrder) -> int:
    """Answered reads of one order's chat."""
    return sum(
        1
        for r in bybit.requests
        if r.path == MESSAGES_PATH and r.status is not None and isinstance(r.body, dict)
        if r.body.get("orderId") == order.id
    )


async def two_orders(harness: Harness) -> tuple[FakeOrder, FakeOrder]:
    """Two orders watched in the team chat, their cards posted."""
    first, second = harness.bybit.add_order(), harness.bybit.add_order(counterparty_nick="SellerSue")
    await harness.start()
    await harness.reply_to(f"/watch {first.id} {second.id}")
    await harness.telegram.wait_for(lambda: sum("Order …" in t for t in harness.texts()) == 2)
    return first, second


async def recorded(harness: Harness, order: FakeOrder) -> None:
    """Wait until the bridge has surely read (and recorded) what the order's chat holds now."""
    reads = reads_of(harness.bybit, order)
    await harness.telegram.wait_for(lambda: reads_of(harness.bybit, order) >= reads + 2)


async def test_media_links_the_http_client_cannot_use_become_links_and_the_chat_goes_on(harness: Harness) -> None:
    first, second = await two_orders(harness)
    links = ("http://127.0.0.1:99999/bad-port.png", f"{harness.bybit.url}/fiat/a\ttab.png")  # (the media host's)
    for link in links:
        harness.bybit.post_message(first.id, link, msg_type=2, content_type="pic")
    harness.bybit.post_message(first.id, "a after the links")
    await recorded(harness, first)
    harness.bybit.post_message(second.id, "b 01 other order")
    await harness.wait_text("b 01 other order")
    await harness.wait_text("a after the links")

    texts = harness.texts()
    reasons = {"bad-port.png": "is not Bybit's media host", "a\ttab.png": "not a valid link"}
    for name, reason in reasons.items():
        [post] = [t for t in texts if name in t]
        assert reason in post  # shown as a link, saying why
    assert not [s for s in harness.telegram.sent if s.media_kind]


async def test_an_answer_aiogram_cannot_decode_dead_letters_that_message_only(harness: Harness) -> None:
    first, second = await two_orders(harness)
    harness.telegram.inject_error(200, "<html><body>Welcome to the hotel wifi</body></html>", page=True)
    harness.bybit.post_message(first.id, "a 01 undecodable answer")
    await recorded(harness, first)
    harness.bybit.post_message(first.id, "a 02 next")
    harness.bybit.post_message(second.id, "b 01 other order")
    await harness.wait_text("a 02 next")
    await harness.wait_text("b 01 other order")

    assert "1 dead-lettered" in await harness.reply_to("/status")  # kept, with its reason, for /retry
    assert not any("a 01 undecodable answer" in t for t in harness.texts(TEAM_CHAT))


async def test_an_order_whose_home_fails_unexpectedly_never_holds_the_chat(harness: Harness) -> None:
    harness.telegram.chats[TEAM_CHAT].is_forum = True
    first, second = harness.bybit.add_order(), harness.bybit.add_order(counterparty_nick="SellerSue")
    await harness.start()
    await harness.reply_to(f"/watch {first.id}")
    await harness.telegram.wait_for(lambda: len(harness.telegram.chats[TEAM_CHAT].topics) == 1)
    harness.telegram.inject_error(200, "<html>captive portal</html>", times=50, method="createForumTopic", page=True)
    await harness.reply_to(f"/watch {second.id}")  # its topic cannot be made: the answer is not Telegram's
    harness.bybit.post_message(first.id, "a 01 the other order goes on")
    await harness.wait_text("a 01 the other order goes on")
