"""Telegram misbehaving, media that cannot be uploaded, and text beyond Telegram's limits."""

from __future__ import annotations

import contextlib
import html
import re
import sqlite3
import time

import httpx

from bridge.sandbox.fake_bybit import MEDIA_PATH, FakeOrder
from bridge.sandbox.fake_telegram import MAX_TEXT_CHARS, SentMessage
from tests.harness import TEAM_CHAT, Harness

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 300
_HREF = re.compile(r'<a href="([^"]+)">')


def body_lines(harness: Harness, prefix: str) -> list[str]:
    return [line for text in harness.texts() for line in text.splitlines() if line.startswith(prefix)]


def forwarded(harness: Harness) -> list[SentMessage]:
    """Posts carrying chat messages (not command replies or order cards)."""
    return [s for s in harness.telegram.sent_to(TEAM_CHAT) if " · order …" in (s.plain or s.plain_caption or "")]


def recorded(harness: Harness, message_id: int) -> bool:
    """Whether the bridge has marked the post delivered."""
    with contextlib.closing(sqlite3.connect(harness.db_path)) as db:
        return bool(db.execute("SELECT 1 FROM posts WHERE message_id = ?", (message_id,)).fetchone())


async def watched(harness: Harness, *history: str, **settings: object) -> FakeOrder:
    order = harness.bybit.add_order()
    for text in history:
        harness.bybit.post_message(order.id, text)
    await harness.start(**settings)
    assert "Watching" in await harness.reply_to(f"/watch {order.id}")
    if history:
        await harness.wait_text(history[-1])
    return order


async def test_flood_control_is_waited_out_and_nothing_is_dropped(harness: Harness) -> None:
    order = await watched(harness, "f 01")
    harness.telegram.inject_retry_after(times=2, retry_after=1)
    injected_at = time.monotonic()
    for n in range(2, 9):
        harness.bybit.post_message(order.id, f"f {n:02d}")
    await harness.wait_text("f 08")
    assert harness.telegram.flood_errors == 2
    sends = [r.time for r in harness.telegram.requests if r.method.lower() == "sendmessage" and r.time > injected_at]
    assert sends[1] - sends[0] >= 0.95 and sends[2] - sends[1] >= 0.95  # retry_after was waited out each time
    assert body_lines(harness, "f ") == [f"f {n:02d}" for n in range(1, 9)]
    harness.bybit.post_message(order.id, "f 09")  # and the chat works normally afterwards
    await harness.wait_text("f 09")
    assert body_lines(harness, "f ")[-1] == "f 09"


async def test_server_error_is_retried_and_delivered_once(harness: Harness) -> None:
    order = await watched(harness, "e 01", telegram_timeout=0.5)  # a 5xx pauses the chat like a timeout
    harness.telegram.inject_error(500, "Internal Server Error", times=1)
    harness.bybit.post_message(order.id, "e 02")
    await harness.wait_text("e 02")
    attempts = [r for r in harness.telegram.requests if r.method.lower() == "sendmessage" and "e 02" in str(r.params)]
    assert len(attempts) == 2  # refused once, then accepted
    harness.bybit.post_message(order.id, "e 03")
    await harness.wait_text("e 03")
    assert body_lines(harness, "e ") == ["e 01", "e 02", "e 03"]


async def test_a_reaction_whose_answer_was_lost_is_set_again(harness: Harness) -> None:
    await watched(harness, "e 01")
    post = next(s for s in harness.telegram.sent_to(TEAM_CHAT) if "e 01" in (s.plain or ""))
    await harness.telegram.wait_for(lambda: recorded(harness, post.message_id))  # so a reply to it is a reply
    harness.telegram.inject_error(502, "Bad Gateway", times=2, method="setMessageReaction")
    asked = harness.say("Received, thanks", user_id=4242, reply_to_message_id=post.message_id)
    await harness.telegram.wait_for(lambda: harness.telegram.reactions.get((TEAM_CHAT, asked)) == ["👍"])
    tries = [r for r in harness.telegram.requests if r.method == "setMessageReaction"]
    assert len(tries) == 3


async def test_an_expired_media_link_keeps_its_place_and_the_file_follows_through_a_fresh_one(harness: Harness) -> None:
    bybit = harness.bybit
    order = bybit.add_order()
    await harness.start()
    await harness.reply_to(f"/watch {order.id}")
    await harness.telegram.wait_for(lambda: any("Order …" in (s.plain or "") for s in harness.telegram.sent))
    harness.telegram.kick_bot(TEAM_CHAT)  # Telegram out of reach for us while the links age
    bybit.post_media(order.id, "pic", PNG, "receipt.png")
    bybit.post_message(order.id, "after the receipt")
    polls = bybit.calls_to("/v5/p2p/order/message/listpage")
    await harness.telegram.wait_for(lambda: bybit.calls_to("/v5/p2p/order/message/listpage") > polls + 2)
    bybit.clock_offset_ms = (3 * 3600 + 60) * 1000  # three hours later: the links we hold have expired
    harness.telegram.restore_bot(TEAM_CHAT)
    await harness.wait_text("after the receipt", timeout=15)

    [placeholder] = [s for s in forwarded(harness) if "receipt.png" in (s.plain or "")]
    after = next(s for s in forwarded(harness) if "after the receipt" in (s.plain or ""))
    assert "file follows" in (placeholder.plain or "")
    assert placeholder.message_id < after.message_id  # the receipt's place is kept, before what followed it
    await harness.telegram.wait_for(lambda: any(s.media_kind for s in harness.telegram.sent), timeout=20)
    [photo] = [s for s in harness.telegram.sent if s.media_kind]
    assert photo.media_bytes == PNG  # the receipt itself, through a fresh link
    assert photo.reply_to == placeholder.message_id


async def test_missing_media_object_becomes_a_text_post_with_link_and_reason(harness: Harness) -> None:
    bybit = harness.bybit
    order = bybit.add_order()
    path = f"{MEDIA_PATH}no-such-object.png?e=9999999999&token=deadbeef"
    bybit.post_message(order.id, path, msg_type=2, content_type="pic")
    bybit.post_message(order.id, "after the picture")
    await harness.start()
    await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("after the picture")

    assert not [s for s in harness.telegram.sent if s.media_kind]
    post = next(s for s in forwarded(harness) if "no-such-object.png" in (s.plain or ""))
    assert "404" in (post.plain or "")
    assert [html.unescape(link) for link in _HREF.findall(post.text or "")] == [f"{bybit.url}{path}"]


async def test_media_telegram_refuses_is_sent_as_a_working_link(harness: Harness) -> None:
    bybit = harness.bybit
    order = bybit.add_order()
    bybit.post_media(order.id, "pic", PNG, "receipt.png")
    harness.telegram.inject_error(400, "Bad Request: IMAGE_PROCESS_FAILED", times=1, method="sendPhoto")
    await harness.start()
    await harness.reply_to(f"/watch {order.id}")
    await harness.telegram.wait_for(lambda: any("receipt.png" in (s.plain or "") for s in forwarded(harness)))

    post = next(s for s in forwarded(harness) if "receipt.png" in (s.plain or ""))
    assert "refused" in (post.plain or "")
    (link,) = _HREF.findall(post.text or "")
    async with httpx.AsyncClient() as client:
        response = await client.get(html.unescape(link))
    assert response.status_code == 200 and response.content == PNG  # the link works
    assert len(forwarded(harness)) == 1


async def test_long_text_is_split_under_the_limit_with_nothing_lost(harness: Harness) -> None:
    order = await watched(harness)
    words = [f"w{n:04d}{'<&>' if n % 50 == 0 else ''}" for n in range(1000)]
    text = " ".join(words)
    assert len(text) > 6000
    harness.bybit.post_message(order.id, text)
    harness.bybit.post_message(order.id, "after the long one")
    await harness.wait_text("after the long one")

    parts = [s.plain or "" for s in forwarded(harness) if "w0" in (s.plain or "")]
    assert len(parts) >= 2
    assert all(len(part) <= MAX_TEXT_CHARS for part in parts)
    assert all(part.splitlines()[0].startswith("Buyer (counterparty)") for part in parts)  # each has a header
    received = " ".join(" ".join(part.splitlines()[1:]) for part in parts).split()
    assert received == words


async def test_command_reply_during_flood_control_is_not_dropped(harness: Harness) -> None:
    order = harness.bybit.add_order()
    await harness.start()
    harness.telegram.inject_retry_after(times=1, retry_after=1)
    reply = await harness.reply_to(f"/watch {order.id}", timeout=5)  # waited out like any post, not lost
    assert "Watching" in reply
    assert harness.telegram.flood_errors == 1


async def test_telegram_unreachable_at_start_up_is_retried(harness: Harness) -> None:
    harness.telegram.inject_error(502, "Bad Gateway", times=1, method="getMe")
    order = harness.bybit.add_order()
    harness.bybit.post_message(order.id, "after a bad start")
    await harness.start()
    assert sum(1 for r in harness.telegram.requests if r.method.lower() == "getme") >= 2
    await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("after a bad start")
