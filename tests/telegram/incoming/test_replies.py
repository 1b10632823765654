"""Answering buyers from Telegram: replies and /send reach Bybit's chat exactly once, with feedback both ways."""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

import pytest

from bridge.sandbox.fake_bybit import FakeOrder, Fault
from bridge.sandbox.fake_telegram import SentMessage, UserFileKind
from tests.harness import TEAM_CHAT, Harness

SESSION_SEND = "/v5/p2p/chat/message/send_v1"
ORDER_SEND = "/v5/p2p/order/message/send"
TEAMMATE = 4242


def on_bybit(harness: Harness, order: FakeOrder, text: str) -> list[dict[str, Any]]:
    """Your messages with this text in the order's Bybit chat."""
    return [m for m in harness.bybit.messages(order.id) if m.get("userId") == "10001" and m.get("message") == text]


def forwarded(harness: Harness, needle: str) -> list[SentMessage]:
    return [
        s for s in harness.telegram.sent_to(TEAM_CHAT) if needle in (s.plain or "") and " · order …" in (s.plain or "")
    ]


def answer_to(harness: Harness, message_id: int) -> list[SentMessage]:
    return [s for s in harness.telegram.sent_to(TEAM_CHAT) if s.reply_to == message_id]


async def watched(harness: Harness, api: str, **settings: object) -> tuple[FakeOrder, SentMessage]:
    """An order watched in the team chat, with the buyer's first message forwarded; returns that post."""
    order = harness.bybit.add_order()
    if api == "session":
        harness.bybit.retire_order_chat()
    harness.bybit.post_message(order.id, "b 01 I paid")
    await harness.start(**settings)
    assert "Watching" in await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("b 01 I paid")
    post = forwarded(harness, "b 01")[0]
    await harness.telegram.wait_for(lambda: recorded(harness, post.message_id))  # a teammate answers after that
    return order, post


def recorded(harness: Harness, message_id: int) -> bool:
    """Whether the bridge has marked the post delivered (so a reply to it can be told apart from team talk)."""
    with contextlib.closing(sqlite3.connect(harness.db_path)) as db:
        return bool(db.execute("SELECT 1 FROM posts WHERE message_id = ?", (message_id,)).fetchone())


@pytest.mark.parametrize("api", ["order", "session"])
async def test_a_reply_to_a_forwarded_message_reaches_the_buyer_once(api: str, harness: Harness) -> None:
    order, post = await watched(harness, api)
    asked = harness.say("Received, releasing now", user_id=TEAMMATE, reply_to_message_id=post.message_id)
    await harness.telegram.wait_for(lambda: harness.telegram.reactions.get((TEAM_CHAT, asked)) == ["👍"])
    assert len(on_bybit(harness, order, "Received, releasing now")) == 1
    harness.bybit.post_message(order.id, "b 02 thanks")  # the chat moves on; the echo is not forwarded back
    await harness.wait_text("b 02 thanks")
    assert not forwarded(harness, "Received, releasing now")
    assert harness.bybit.calls_to(SESSION_SEND if api == "session" else ORDER_SEND) == 1
    assert "Replies to Bybit: 0 waiting, 1 sent, 0 not sent" in await harness.reply_to("/status")


async def test_a_reply_to_the_order_card_and_send_are_sent_too(harness: Harness) -> None:
    order, _ = await watched(harness, "session")
    card = next(s for s in harness.telegram.sent_to(TEAM_CHAT) if "Order …" in (s.plain or ""))
    harness.say("From the card", reply_to_message_id=card.message_id)
    harness.say(f"/send {order.id} From the command")
    await harness.telegram.wait_for(lambda: len(harness.telegram.reactions) == 2)
    assert [len(on_bybit(harness, order, t)) for t in ("From the card", "From the command")] == [1, 1]


async def test_team_talk_stays_in_telegram(harness: Harness) -> None:
    harness.telegram.chats[TEAM_CHAT].is_forum = True
    order, post = await watched(harness, "session")
    topic = post.thread_id
    assert topic is not None
    harness.say("who takes this one?", thread_id=topic)  # a plain message in the topic: team talk
    harness.say("the buyer looks fine", reply_to_message_id=harness.say("ok", thread_id=topic))  # a reply to a teammate
    harness.say(f"/send {order.id} checking", thread_id=topic)
    await harness.telegram.wait_for(lambda: len(harness.telegram.reactions) == 1)
    assert [m["message"] for m in harness.bybit.messages(order.id) if m.get("userId") == "10001"] == ["checking"]
    harness.say("/send in the topic, no id needed", thread_id=topic)
    await harness.telegram.wait_for(lambda: len(on_bybit(harness, order, "in the topic, no id needed")) == 1)


async def test_replies_turned_off_or_from_someone_not_allowed_are_not_sent_and_say_why(harness: Harness) -> None:
    order, post = await watched(harness, "session", telegram_reply_user_ids=[TEAMMATE])
    stranger = harness.say("let me answer", user_id=777, reply_to_message_id=post.message_id)
    await harness.telegram.wait_for(lambda: bool(answer_to(harness, stranger)))
    assert "Not sent" in (answer_to(harness, stranger)[0].plain or "")
    assert "TELEGRAM_REPLY_USER_IDS" in (answer_to(harness, stranger)[0].plain or "")
    assert not on_bybit(harness, order, "let me answer")


@pytest.mark.parametrize(
    ("settings", "refusal"),
    [
        ({}, "REPLIES_FROM_ANONYMOUS=true"),  # by default nobody may answer buyers without a name
        ({"telegram_reply_user_ids": [TEAMMATE], "replies_from_anonymous": True}, "TELEGRAM_REPLY_USER_IDS"),
        ({"replies_from_anonymous": True}, None),  # everyone may reply, anonymous posts too
    ],
)
async def test_replies_posted_anonymously_are_sent_only_when_allowed_and_else_say_why(
    settings: dict[str, object], refusal: str | None, harness: Harness
) -> None:
    order, post = await watched(harness, "session", **settings)
    asked = [
        harness.say("from the admins", reply_to_message_id=post.message_id, anonymous="group"),
        harness.say(f"/send {order.id} from the channel", anonymous="channel"),
    ]
    if refusal is None:
        await harness.telegram.wait_for(lambda: all((TEAM_CHAT, m) in harness.telegram.reactions for m in asked))
        assert [len(on_bybit(harness, order, t)) for t in ("from the admins", "from the channel")] == [1, 1]
        return
    await harness.telegram.wait_for(lambda: all(answer_to(harness, m) for m in asked))
    for message_id in asked:
        text = answer_to(harness, message_id)[0].plain or ""
        assert "Not sent" in text and "anonymously" in text and refusal in text, text
    assert [m for m in harness.bybit.messages(order.id) if m.get("userId") == "10001"] == []


async def test_replies_disabled(harness: Harness) -> None:
    _, post = await watched(harness, "order", replies_enabled=False)
    asked = harness.say("hello buyer", reply_to_message_id=post.message_id)
    await harness.telegram.wait_for(lambda: bool(answer_to(harness, asked)))
    assert "REPLIES_ENABLED=false" in (answer_to(harness, asked)[0].plain or "")
    assert harness.bybit.calls_to(ORDER_SEND) == 0


async def test_a_reply_bybit_refuses_gets_a_not_sent_answer_with_bybits_reason(harness: Harness) -> None:
    order, post = await watched(harness, "session")
    order.status = 50  # completed: Bybit takes no more messages
    asked = harness.say("one more thing", reply_to_message_id=post.message_id)
    await harness.telegram.wait_for(lambda: bool(answer_to(harness, asked)))
    text = answer_to(harness, asked)[0].plain or ""
    assert "Not sent" in text and "finished" in text
    assert (TEAM_CHAT, asked) not in harness.telegram.reactions


async def test_a_session_send_whose_answer_was_lost_is_not_sent_twice(harness: Harness) -> None:
    order, post = await watched(harness, "session")
    harness.bybit.inject("late", path=SESSION_SEND)  # Bybit stores it; the answer never comes
    asked = harness.say("Sent the money", reply_to_message_id=post.message_id)
    await harness.telegram.wait_for(lambda: harness.telegram.reactions.get((TEAM_CHAT, asked)) == ["👍"], timeout=20)
    assert len(on_bybit(harness, order, "Sent the money")) == 1
    assert harness.bybit.calls_to(SESSION_SEND) == 1  # found in the chat, not sent again


@pytest.mark.parametrize("fault", ["late", "server_error"])
async def test_two_identical_replies_both_reach_the_buyer_whatever_became_of_the_second_attempt(
    fault: Fault, harness: Harness
) -> None:
    # "late": Bybit stored the second and its answer was lost; "server_error": it never stored it. Either
    # way the retry looks for it in the chat, where the first "ok" must not pass for the second.
    order, post = await watched(harness, "session")
    first = harness.say("ok, sending now", reply_to_message_id=post.message_id)
    await harness.telegram.wait_for(lambda: harness.telegram.reactions.get((TEAM_CHAT, first)) == ["👍"])
    harness.bybit.inject(fault, path=SESSION_SEND)
    second = harness.say("ok, sending now", reply_to_message_id=post.message_id)
    await harness.telegram.wait_for(lambda: harness.telegram.reactions.get((TEAM_CHAT, second)) == ["👍"], timeout=20)
    assert len(on_bybit(harness, order, "ok, sending now")) == 2
    harness.bybit.post_message(order.id, "b 02 thanks")  # both echoes came back: neither is forwarded
    await harness.wait_text("b 02 thanks")
    assert not forwarded(harness, "ok, sending now")


async def test_replies_survive_a_restart_exactly_once(harness: Harness) -> None:
    order, post = await watched(harness, "session")
    harness.bybit.inject("late", path=SESSION_SEND)
    harness.say("before the restart", reply_to_message_id=post.message_id)
    await harness.telegram.wait_for(lambda: len(on_bybit(harness, order, "before the restart")) == 1)
    await harness.stop()  # the answer was lost and the bridge went down
    await harness.start()
    harness.bybit.post_message(order.id, "b 02 got it?")
    await harness.wait_text("b 02 got it?")
    await harness.telegram.wait_for(lambda: len(harness.telegram.reactions) == 1, timeout=20)
    assert len(on_bybit(harness, order, "before the restart")) == 1
    assert not forwarded(harness, "before the restart")


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
PDF = b"%PDF-1.4\n" + b"0" * 300


@pytest.mark.parametrize("api", ["order", "session"])
async def test_a_receipt_photo_or_pdf_sent_as_a_reply_reaches_the_buyer_once(api: str, harness: Harness) -> None:
    order, post = await watched(harness, api)
    photo = harness.telegram.user_sends_photo(TEAM_CHAT, PNG, reply_to_message_id=post.message_id)
    pdf = harness.telegram.user_sends_document(
        TEAM_CHAT, PDF, "receipt.pdf", "application/pdf", reply_to_message_id=post.message_id
    )
    await harness.telegram.wait_for(lambda: len(harness.telegram.reactions) == 2, timeout=20)
    assert harness.telegram.reactions[(TEAM_CHAT, photo)] == harness.telegram.reactions[(TEAM_CHAT, pdf)] == ["👍"]
    files = [
        media
        for m in harness.bybit.messages(order.id)
        if m.get("userId") == "10001" and (media := harness.bybit.media_of(m)) is not None
    ]
    assert [data for data, _ in files] == [PNG, PDF]  # each once, in order
    harness.bybit.post_message(order.id, "b 02 got the receipt")
    await harness.wait_text("b 02 got the receipt")
    assert not [s for s in harness.telegram.sent_to(TEAM_CHAT) if s.media_kind]  # the echoes are not forwarded


CAPTION = "Paid from Sber, see the receipt"


def yours(harness: Harness, order: FakeOrder) -> list[bytes | str]:
    """Your messages in the order's Bybit chat, oldest first: a file's bytes, or a text."""
    return [
        media[0] if (media := harness.bybit.media_of(m)) else str(m.get("message"))
        for m in harness.bybit.messages(order.id)
        if m.get("userId") == "10001"
    ]


async def test_a_photo_caption_follows_the_photo_and_the_thumb_waits_for_both(harness: Harness) -> None:
    order, post = await watched(harness, "session")
    harness.bybit.inject("late", times=2, path=SESSION_SEND)  # both sends arrive and lose their answers
    photo = harness.telegram.user_sends_photo(TEAM_CHAT, PNG, caption=CAPTION, reply_to_message_id=post.message_id)
    await harness.telegram.wait_for(lambda: CAPTION in yours(harness, order), timeout=20)
    assert (TEAM_CHAT, photo) not in harness.telegram.reactions  # the file went; the caption is still uncertain
    await harness.telegram.wait_for(lambda: harness.telegram.reactions.get((TEAM_CHAT, photo)) == ["👍"], timeout=20)
    assert yours(harness, order) == [PNG, CAPTION]  # each once, the caption right after the file
    assert harness.bybit.calls_to(SESSION_SEND) == 2  # each found in the chat after its lost answer
    harness.bybit.post_message(order.id, "b 02 got it")
    await harness.wait_text("b 02 got it")
    assert not forwarded(harness, CAPTION)  # its echo is known as the bridge's own
    assert "Replies to Bybit: 0 waiting, 1 sent, 0 not sent" in await harness.reply_to("/status")


async def test_a_pdf_caption_follows_the_pdf_once_across_a_restart(harness: Harness) -> None:
    order, post = await watched(harness, "order")
    harness.bybit.inject("late", path=ORDER_SEND)  # the file arrives, its answer is lost, the bridge goes down
    pdf = harness.telegram.user_sends_document(
        TEAM_CHAT, PDF, "receipt.pdf", "application/pdf", caption=CAPTION, reply_to_message_id=post.message_id
    )
    await harness.telegram.wait_for(lambda: yours(harness, order) == [PDF], timeout=20)
    await harness.stop()
    await harness.start()
    await harness.telegram.wait_for(lambda: harness.telegram.reactions.get((TEAM_CHAT, pdf)) == ["👍"], timeout=20)
    assert yours(harness, order) == [PDF, CAPTION]


MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100


async def test_a_reply_bybit_cannot_take_gets_a_not_sent_answer_naming_what_it_is(harness: Harness) -> None:
    order, post = await watched(harness, "session")

    def reply_with(
        kind: UserFileKind, data: bytes, mime_type: str = "", file_name: str = "", media_group_id: str | None = None
    ) -> int:
        return harness.telegram.user_sends_file(
            TEAM_CHAT,
            kind,
            data,
            mime_type=mime_type,
            file_name=file_name,
            media_group_id=media_group_id,
            reply_to_message_id=post.message_id,
        )

    video = reply_with("video", MP4, mime_type="video/mp4", file_name="proof.mp4")  # Bybit takes mp4 videos
    named = {
        reply_with("voice", b"OggS voice"): "a voice message",
        reply_with("video_note", b"round"): "a round video message",
        reply_with("sticker", b"RIFF webp"): "a sticker",
        reply_with("video", b"moov", mime_type="video/quicktime", file_name="clip.mov"): "jpg, png, pdf and mp4",
    }
    for data in (b"mp3 1", b"mp3 2"):  # an album: each item is answered
        named[reply_with("audio", data, mime_type="audio/mpeg", media_group_id="album-1")] = "an audio file"
    await harness.telegram.wait_for(lambda: all(answer_to(harness, asked) for asked in named), timeout=20)
    for asked, kind in named.items():
        [answer] = answer_to(harness, asked)
        assert "Not sent" in (answer.plain or "") and kind in (answer.plain or ""), answer.plain
    await harness.telegram.wait_for(lambda: harness.telegram.reactions.get((TEAM_CHAT, video)) == ["👍"], timeout=20)
    assert yours(harness, order) == [MP4]
    assert "Replies to Bybit: 0 waiting, 1 sent, 6 not sent" in await harness.reply_to("/status")


async def test_a_file_bybit_does_not_take_is_not_sent_and_says_why(harness: Harness) -> None:
    order, post = await watched(harness, "order")
    doc = harness.telegram.user_sends_document(
        TEAM_CHAT, b"PK\x03\x04zip", "statement.zip", "application/zip", reply_to_message_id=post.message_id
    )
    await harness.telegram.wait_for(lambda: bool(answer_to(harness, doc)))
    assert "jpg, png, pdf and mp4" in (answer_to(harness, doc)[0].plain or "")
    assert harness.bybit.calls_to("/v5/p2p/oss/upload_file") == 0
    assert not [m for m in harness.bybit.messages(order.id) if m.get("userId") == "10001"]
