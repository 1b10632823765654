"""End to end through the real bridge: /watch → history → new messages, bursts, media, both list shapes."""

from __future__ import annotations

import pytest

from bridge.sandbox.fake_bybit import FakeBybit
from tests.harness import TEAM_CHAT, Harness


async def test_watch_forwards_history_then_new_messages(harness: Harness) -> None:
    bybit = harness.bybit
    order = bybit.add_order(side=1, counterparty_nick="BuyerBob")
    bybit.post_message(order.id, "Order created", sender="system")
    bybit.post_message(order.id, "Hi, paying now")
    await harness.start()

    reply = await harness.reply_to(f"/watch {order.id}")
    assert "Watching" in reply and order.id in reply
    await harness.wait_text("Hi, paying now")

    bybit.post_message(order.id, "I paid <1000 & more>")
    await harness.wait_text("I paid <1000 & more>")
    bybit.post_message(order.id, "Checking", sender="self")
    await harness.wait_text("Checking")

    forwarded = [t for t in harness.texts() if "order …" in t]
    assert [t.rsplit("\n", 1)[-1] for t in forwarded] == [
        "Order created",
        "Hi, paying now",
        "I paid <1000 & more>",
        "Checking",
    ]
    assert forwarded[0].startswith("Bybit system")
    assert forwarded[1].startswith("Buyer (counterparty) BuyerBob")
    assert forwarded[3].startswith("You (seller) TeamMerchant")


async def test_backfill_limit_and_no_older_history_later(harness: Harness) -> None:
    order = harness.bybit.add_order()
    for n in range(1, 41):
        harness.bybit.post_message(order.id, f"old {n:02d}")
    await harness.start(backfill_limit=5)
    await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("old 40")
    harness.bybit.post_message(order.id, "fresh")
    await harness.wait_text("fresh")
    lines = [line for t in harness.texts() for line in t.splitlines() if line.startswith(("old", "fresh"))]
    assert lines == ["old 36", "old 37", "old 38", "old 39", "old 40", "fresh"]


async def test_burst_larger_than_a_page_arrives_complete_in_order(harness: Harness) -> None:
    order = harness.bybit.add_order()
    harness.bybit.post_message(order.id, "before")
    await harness.start(poll_interval=1.0)
    await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("before")  # the backfill is done: what follows is new
    for n in range(1, 101):  # 100 messages between two polls: more than three pages of 30
        harness.bybit.post_message(order.id, f"burst {n:03d}")
    await harness.wait_text("burst 100", timeout=20)
    lines = [line for t in harness.texts() for line in t.splitlines() if line.startswith("burst ")]
    assert lines == [f"burst {n:03d}" for n in range(1, 101)]


async def test_media_arrives_as_real_telegram_media(harness: Harness) -> None:
    order = harness.bybit.add_order()
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 200
    harness.bybit.post_media(order.id, "pic", png, "receipt.png")
    harness.bybit.post_media(order.id, "pdf", b"%PDF-1.4 test", "statement.pdf")
    harness.bybit.post_media(order.id, "video", b"\x00\x00\x00\x18ftypmp42", "proof.mp4")
    await harness.start()
    await harness.reply_to(f"/watch {order.id}")
    await harness.telegram.wait_for(lambda: len([s for s in harness.telegram.sent if s.media_kind]) == 3)
    media = {s.media_kind: s for s in harness.telegram.sent if s.media_kind}
    assert media["photo"].media_bytes == png
    assert media["document"].file_name == "statement.pdf"
    assert media["video"].file_name == "proof.mp4"
    assert "Buyer (counterparty)" in (media["photo"].plain_caption or "")


@pytest.mark.parametrize("shape", ["bare", "nested"])
async def test_both_listpage_shapes(shape: str, harness: Harness, fake_bybit: FakeBybit) -> None:
    fake_bybit._list_shape = shape  # type: ignore[assignment]
    order = fake_bybit.add_order()
    for n in range(35):
        fake_bybit.post_message(order.id, f"m{n}")
    await harness.start(backfill_limit=40)
    await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("m34")
    lines = [line for t in harness.texts() for line in t.splitlines() if line.startswith("m")]
    assert lines == [f"m{n}" for n in range(35)]


async def test_setmycommands_and_team_chat_served(harness: Harness) -> None:
    await harness.start()
    assert any(r.method.lower() == "setmycommands" for r in harness.telegram.requests)
    reply = await harness.reply_to("/help")
    assert "/watch ORDER_ID" in reply and "/unwatch [ORDER_ID]" in reply and "/status" in reply
    assert TEAM_CHAT in {s.chat_id for s in harness.telegram.sent}
