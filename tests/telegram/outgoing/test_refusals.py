"""Every Telegram refusal ends delivered, held (and resumed) or dead-lettered (and retryable), in order per order."""

from __future__ import annotations

import contextlib
import sqlite3

from bridge.sandbox.fake_bybit import FakeOrder
from bridge.sandbox.fake_telegram import SentMessage
from tests.harness import OTHER_CHAT, TEAM_CHAT, Harness

SEND = "sendMessage"
PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 300


def body_lines(harness: Harness, prefix: str) -> list[str]:
    return [line for text in harness.texts() for line in text.splitlines() if line.startswith(prefix)]


def posts_with(harness: Harness, needle: str) -> list[SentMessage]:
    return [s for s in harness.telegram.sent_to(TEAM_CHAT) if needle in (s.plain or s.plain_caption or "")]


def queued(harness: Harness) -> int:
    """Messages recorded and waiting for delivery."""
    with contextlib.closing(sqlite3.connect(harness.db_path)) as db:
        return int(db.execute("SELECT COUNT(*) FROM messages WHERE state = 'pending'").fetchone()[0])


def dead(harness: Harness) -> int:
    with contextlib.closing(sqlite3.connect(harness.db_path)) as db:
        return int(db.execute("SELECT COUNT(*) FROM messages WHERE state = 'dead'").fetchone()[0])


def held(harness: Harness) -> int:
    with contextlib.closing(sqlite3.connect(harness.db_path)) as db:
        return int(db.execute("SELECT COUNT(*) FROM messages WHERE hold_until > 0").fetchone()[0])


def paused(harness: Harness) -> bool:
    with contextlib.closing(sqlite3.connect(harness.db_path)) as db:
        return bool(db.execute("SELECT COUNT(*) FROM chats WHERE paused_until IS NOT NULL").fetchone()[0])


def card_of(harness: Harness, order: FakeOrder) -> SentMessage:
    return next(s for s in harness.telegram.sent_to(TEAM_CHAT) if f"Order …{order.id[-6:]}" in (s.plain or ""))


async def watched(harness: Harness, *, forum: bool = False, **settings: object) -> FakeOrder:
    harness.telegram.chats[TEAM_CHAT].is_forum = forum
    order = harness.bybit.add_order()
    harness.bybit.post_message(order.id, "x 00")
    await harness.start(**settings)
    assert "Watching" in await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("x 00")
    return order


async def test_a_closed_topic_is_reopened(harness: Harness) -> None:
    order = await watched(harness, forum=True)
    topic = card_of(harness, order).thread_id
    assert topic is not None
    harness.telegram.close_topic(TEAM_CHAT, topic)  # an admin closes it, and Telegram refuses the next post
    harness.telegram.inject_error(400, "Bad Request: TOPIC_CLOSED", method=SEND)
    harness.bybit.post_message(order.id, "x 01")
    await harness.wait_text("x 01")
    assert [s.thread_id for s in posts_with(harness, "x 01")] == [topic]
    assert not harness.telegram.chats[TEAM_CHAT].topics[topic].closed


async def test_a_closed_topic_the_bot_may_not_reopen_sends_to_the_general_thread(harness: Harness) -> None:
    order = await watched(harness, forum=True)
    card = card_of(harness, order)
    harness.telegram.set_bot_rights(TEAM_CHAT, can_manage_topics=False)
    harness.telegram.inject_error(400, "Bad Request: TOPIC_CLOSED", method=SEND)
    harness.telegram.inject_error(400, "Bad Request: not enough rights to manage topics", method="reopenForumTopic")
    for n in (1, 2):
        harness.bybit.post_message(order.id, f"x {n:02d}")
    await harness.wait_text("x 02")
    for post in posts_with(harness, "x 01") + posts_with(harness, "x 02"):
        assert post.thread_id is None and post.reply_to == card.message_id
    assert body_lines(harness, "x ") == ["x 00", "x 01", "x 02"]


async def test_a_restricted_bot_holds_the_chat_and_resumes_in_order_when_rights_return(harness: Harness) -> None:
    order = await watched(harness, telegram_allowed_chat_ids=[OTHER_CHAT])
    harness.telegram.restrict_bot(TEAM_CHAT)
    for n in range(1, 4):
        harness.bybit.post_message(order.id, f"x {n:02d}")
    await harness.telegram.wait_for(lambda: queued(harness) == 3)
    status = await harness.reply_to("/status", chat_id=OTHER_CHAT)
    assert f"Held chats: {TEAM_CHAT} (the bot may not send messages in the chat" in status
    harness.telegram.unrestrict_bot(TEAM_CHAT)
    await harness.wait_text("x 03", timeout=20)
    assert body_lines(harness, "x ") == ["x 00", "x 01", "x 02", "x 03"]


async def test_rights_lost_without_notice_hold_the_chat_until_a_retry_works(harness: Harness) -> None:
    order = await watched(harness)
    harness.telegram.inject_error(400, "Bad Request: not enough rights to send text messages to the chat", method=SEND)
    harness.bybit.post_message(order.id, "x 01")
    harness.bybit.post_message(order.id, "x 02")
    await harness.telegram.wait_for(lambda: paused(harness))
    assert body_lines(harness, "x ") == ["x 00"]
    harness.telegram.set_bot_rights(TEAM_CHAT, can_pin_messages=False)  # rights change: Telegram says so
    await harness.wait_text("x 02")
    assert body_lines(harness, "x ") == ["x 00", "x 01", "x 02"]


async def test_text_whose_formatting_telegram_refuses_is_sent_plain(harness: Harness) -> None:
    order = await watched(harness)
    harness.telegram.inject_error(400, 'Bad Request: can\'t parse entities: Unsupported start tag "x"', method=SEND)
    harness.bybit.post_message(order.id, "x 01 <b>bold?</b> & more")
    await harness.wait_text("x 01")
    [post] = posts_with(harness, "x 01")
    assert post.parse_mode is None and "x 01 <b>bold?</b> & more" in (post.plain or "")


async def test_a_permanent_refusal_is_dead_lettered_counted_and_retried(harness: Harness) -> None:
    order = await watched(harness)
    harness.telegram.inject_error(400, "Bad Request: MESSAGE_EMPTY_OR_STRANGE", method=SEND)
    harness.bybit.post_message(order.id, "x 01 refused")
    harness.bybit.post_message(order.id, "x 02 fine")
    await harness.wait_text("x 02")
    assert body_lines(harness, "x ") == ["x 00", "x 02 fine"]
    assert "1 dead-lettered" in await harness.reply_to("/status")
    assert "Sending 1" in await harness.reply_to("/retry")
    await harness.wait_text("x 01")
    assert body_lines(harness, "x ") == ["x 00", "x 02 fine", "x 01 refused"]
    assert "0 dead-lettered" in await harness.reply_to("/status")


async def test_a_post_telegram_never_confirms_holds_its_order_and_is_tried_again_later(harness: Harness) -> None:
    order = await watched(harness, telegram_timeout=0.5)
    other = harness.bybit.add_order(counterparty_nick="SellerEve")
    harness.telegram.inject_slow_response(2.0, times=3, method=SEND)
    harness.bybit.post_message(order.id, "x 01 slow")
    await harness.telegram.wait_for(lambda: held(harness) == 1, timeout=30)
    assert len(posts_with(harness, "x 01")) == 3
    harness.bybit.post_message(order.id, "x 02")
    status = await harness.reply_to("/status")  # the chat is not paused: only the order waits
    assert "1 held" in status and "0 dead-lettered" in status
    assert "Watching" in await harness.reply_to(f"/watch {other.id}")
    harness.bybit.post_message(other.id, "y 01 meanwhile")
    await harness.wait_text("y 01 meanwhile")
    assert not posts_with(harness, "x 02")
    await harness.wait_text("x 02", timeout=20)  # the fourth try (4 s later) is confirmed, then the rest follows
    assert len(posts_with(harness, "x 01")) == 4  # Telegram took it each time; the bridge never knew
    assert body_lines(harness, "x ")[-2:] == ["x 01 slow", "x 02"]
    assert "0 dead-lettered" in await harness.reply_to("/status")


async def test_a_post_whose_connection_resets_is_tried_like_one_that_timed_out(harness: Harness) -> None:
    order = await watched(harness, telegram_timeout=0.5)
    other = harness.bybit.add_order(counterparty_nick="SellerEve")
    harness.telegram.inject_reset(times=3, method=SEND)  # Telegram takes the post; the answer never comes back
    harness.bybit.post_message(order.id, "x 01 reset")
    await harness.telegram.wait_for(lambda: held(harness) == 1, timeout=30)
    assert len(posts_with(harness, "x 01")) == 3  # tried three times with the chat paused, then its order held
    assert "Watching" in await harness.reply_to(f"/watch {other.id}")
    harness.bybit.post_message(other.id, "y 01 meanwhile")
    await harness.wait_text("y 01 meanwhile")
    await harness.wait_text("x 01 reset", count=4, timeout=20)  # the fourth try (4 s later) is confirmed
    assert "0 dead-lettered" in await harness.reply_to("/status")


async def test_a_proxy_error_page_after_telegram_took_the_post_is_a_lost_answer(harness: Harness) -> None:
    order = await watched(harness, telegram_timeout=0.5)
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    harness.telegram.inject_error(502, page, method=SEND, page=True, taken=True)
    harness.bybit.post_message(order.id, "x 01 through a proxy")
    await harness.wait_text("x 01 through a proxy", count=2)  # tried again after a pause, never dead-lettered
    harness.bybit.post_message(order.id, "x 02")
    await harness.wait_text("x 02")
    assert "0 dead-lettered" in await harness.reply_to("/status")


async def test_a_long_text_resumes_after_its_last_confirmed_part(harness: Harness) -> None:
    order = await watched(harness, telegram_timeout=0.5)
    words = " ".join(f"w{n:05d}" for n in range(1500))  # three posts' worth
    harness.telegram.inject_slow_response(2.0, times=1, method=SEND, after=1)  # part 1 confirmed, part 2 not
    harness.bybit.post_message(order.id, words)
    await harness.telegram.wait_for(lambda: len(posts_with(harness, "w01499")) == 1, timeout=30)
    heads = [(s.plain or "").split("\n", 1)[0][-5:] for s in posts_with(harness, "w0")]
    assert heads == ["(1/3)", "(2/3)", "(2/3)", "(3/3)"]  # part 2 timed out (though it arrived): only it again


async def test_a_card_telegram_refuses_does_not_hold_the_order_or_the_chat(harness: Harness) -> None:
    order = await watched(harness)
    other = harness.bybit.add_order(counterparty_nick="SellerEve")
    harness.bybit.post_message(other.id, "y 01")
    harness.telegram.inject_error(400, "Bad Request: MESSAGE_TOO_STRANGE", method=SEND, after=1)  # the card
    await harness.reply_to(f"/watch {other.id}")
    await harness.wait_text("y 01")
    harness.bybit.post_message(order.id, "x 01")
    await harness.wait_text("x 01")
    assert not [s for s in harness.telegram.sent if f"Order …{other.id[-6:]}" in (s.plain or "")]
    assert [s.reply_to for s in posts_with(harness, "y 01")] == [None]


async def test_a_media_host_outage_keeps_the_receipts_place_and_the_file_follows(harness: Harness) -> None:
    order = await watched(harness, telegram_allowed_chat_ids=[OTHER_CHAT])
    harness.bybit.media_host_down = True
    harness.bybit.post_media(order.id, "pic", PNG, "receipt.png")
    harness.bybit.post_message(order.id, "x 01 I paid, see the receipt")
    await harness.wait_text("x 01 I paid")  # the order's later messages never wait for the file
    [placeholder] = posts_with(harness, "receipt.png")
    assert "file follows" in (placeholder.plain or "")
    assert placeholder.message_id < posts_with(harness, "x 01")[0].message_id  # its place in the order is kept
    status = await harness.reply_to("/status", chat_id=OTHER_CHAT)
    assert "Held files: 1" in status and "0 held" in status

    harness.bybit.media_host_down = False
    await harness.telegram.wait_for(lambda: any(s.media_kind for s in harness.telegram.sent), timeout=20)
    [photo] = [s for s in harness.telegram.sent_to(TEAM_CHAT) if s.media_kind]
    assert photo.media_bytes == PNG and photo.media_kind == "photo"
    assert photo.reply_to == placeholder.message_id  # the file follows its placeholder
    assert "Held files" not in await harness.reply_to("/status", chat_id=OTHER_CHAT)


def files_to_follow(harness: Harness) -> int:
    with contextlib.closing(sqlite3.connect(harness.db_path)) as db:
        return int(db.execute("SELECT COUNT(*) FROM follows").fetchone()[0])


async def test_a_file_that_follows_survives_a_restart(harness: Harness) -> None:
    order = await watched(harness)
    harness.bybit.media_host_down = True
    harness.bybit.post_media(order.id, "pic", PNG, "receipt.png")
    await harness.telegram.wait_for(lambda: files_to_follow(harness) == 1)
    await harness.stop()
    harness.bybit.media_host_down = False
    await harness.start()
    await harness.telegram.wait_for(lambda: any(s.media_kind for s in harness.telegram.sent), timeout=20)
    [placeholder] = posts_with(harness, "file follows")
    [photo] = [s for s in harness.telegram.sent_to(TEAM_CHAT) if s.media_kind]
    assert photo.reply_to == placeholder.message_id and photo.media_bytes == PNG
    await harness.telegram.wait_for(lambda: files_to_follow(harness) == 0)


async def test_a_file_telegram_refuses_when_it_follows_leaves_its_placeholder_saying_why(harness: Harness) -> None:
    order = await watched(harness)
    harness.bybit.media_host_down = True
    harness.bybit.post_media(order.id, "pic", PNG, "receipt.png")
    await harness.telegram.wait_for(lambda: files_to_follow(harness) == 1)
    [placeholder] = posts_with(harness, "file follows")
    harness.telegram.inject_error(400, "Bad Request: IMAGE_PROCESS_FAILED", method="sendPhoto")
    harness.bybit.media_host_down = False
    await harness.telegram.wait_for(lambda: files_to_follow(harness) == 0, timeout=20)
    [(_, edited, text)] = harness.telegram.edits
    assert edited == placeholder.message_id
    assert "the file stays a link: Telegram refused the file: Bad Request: IMAGE_PROCESS_FAILED" in text
    assert "receipt.png" in text and not [s for s in harness.telegram.sent if s.media_kind]


async def test_a_file_that_follows_follows_its_group_into_the_supergroup(harness: Harness) -> None:
    supergroup = -1009999999999
    harness.telegram.chats[TEAM_CHAT].type = "group"
    order = await watched(harness)
    harness.bybit.media_host_down = True
    harness.bybit.post_media(order.id, "pic", PNG, "receipt.png")
    await harness.telegram.wait_for(lambda: files_to_follow(harness) == 1)
    harness.telegram.migrate_chat(TEAM_CHAT, supergroup)
    harness.bybit.post_message(order.id, "x 01 after the upgrade")
    await harness.wait_text("x 01 after the upgrade", chat_id=supergroup)
    harness.bybit.media_host_down = False
    await harness.telegram.wait_for(lambda: any(s.media_kind for s in harness.telegram.sent), timeout=20)
    [photo] = [s for s in harness.telegram.sent if s.media_kind]
    assert photo.chat_id == supergroup and photo.media_bytes == PNG
