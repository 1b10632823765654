"""The Telegram fake, driven by the real aiogram 3 client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable

import aiohttp
import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import Command
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BufferedInputFile,
    ChatMemberAdministrator,
    ChatMemberMember,
    ChatMemberRestricted,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
)

from bridge.sandbox import FakeBybit, FakeTelegram, SentMessage

TOKEN = "123456:SANDBOX-TOKEN"
GROUP = -1001
FORUM = -1002
PRIVATE = 42
BOT_ID = 123456


def make_bot(fake: FakeTelegram, token: str = TOKEN, timeout: float = 60.0) -> Bot:
    return Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.url), timeout=timeout))


async def refusal(call: Awaitable[object]) -> str:
    """The description of the 400 Telegram answered ``call`` with."""
    with pytest.raises(TelegramBadRequest) as caught:
        await call
    return caught.value.message


@pytest.fixture
async def bot(fake_telegram: FakeTelegram) -> AsyncIterator[Bot]:
    fake_telegram.add_chat(GROUP)
    fake_telegram.add_chat(FORUM, title="Orders", is_forum=True)
    fake_telegram.add_chat(PRIVATE, type="private", title="Alice")
    bot = make_bot(fake_telegram)
    yield bot
    await bot.session.close()


async def test_send_message_html(bot: Bot, fake_telegram: FakeTelegram) -> None:
    me = await bot.get_me()
    first = await bot.send_message(
        GROUP,
        "<b>Order 1</b> from <i>Bob</i> &amp; co &lt;3",
        parse_mode="HTML",
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
    second = await bot.send_message(GROUP, "plain <not html>")

    assert me.username == "p2p_bridge_bot"
    assert first.message_id == 1 and second.message_id == 2
    assert first.chat.id == GROUP and first.from_user is not None and first.from_user.id == me.id
    assert first.text == "Order 1 from Bob & co <3"
    sent = fake_telegram.sent_to(GROUP)
    assert sent[0].text == "<b>Order 1</b> from <i>Bob</i> &amp; co &lt;3"
    assert sent[0].plain == "Order 1 from Bob & co <3" and sent[0].parse_mode == "HTML"
    assert sent[1].plain == "plain <not html>"
    params = fake_telegram.requests[-2].params
    assert params["link_preview_options"] == '{"is_disabled": true}'


async def test_html_is_parsed_as_telegram_does(bot: Bot, fake_telegram: FakeTelegram) -> None:
    every_tag = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s><strike>k</strike><del>d</del>"
        '<a href="https://example.com/?a=1&amp;b=2">a</a><code>c</code><pre><code class="language-py">p</code></pre>'
        '<blockquote expandable>q</blockquote><tg-spoiler>t</tg-spoiler><span class="tg-spoiler">x</span>'
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji><B class="ignored">B</>'
    )
    lenient = await bot.send_message(GROUP, "fish & chips &nbsp; &lt;3 &#x41;&#66;", parse_mode="HTML")
    tagged = await bot.send_message(GROUP, every_tag, parse_mode="HTML")

    assert lenient.text == "fish & chips &nbsp; <3 AB"  # a "&" that starts no entity stays as it is
    assert tagged.text == "bsieunskdacpqtx👍B"
    refusals = {
        "x <foo>y</foo>": 'Unsupported start tag "foo" at byte offset 2',
        "Order <b>1</b> costs < 10": 'Unsupported start tag "" at byte offset 21',
        "Иван: <br>": 'Unsupported start tag "br" at byte offset 10',  # offsets count UTF-8 bytes
        "Цена <b>1": 'Can\'t find end tag corresponding to start tag "b"',
        "<b>x</i>": 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"',
        "x</b>": "Unexpected end tag at byte offset 1",
        '<span class="x">s</span>': 'Tag "span" must have class "tg-spoiler" at byte offset 0',
        "<a href=https://example.com>l</a>": "Unexpected end of name token at byte offset 8",
        "<b": "Unclosed start tag at byte offset 0",
        '<tg-emoji emoji-id="0">👍</tg-emoji>': "Invalid custom emoji identifier specified",
    }
    for text, reason in refusals.items():
        assert await refusal(bot.send_message(GROUP, text, parse_mode="HTML")) == (
            f"Bad Request: can't parse entities: {reason}"
        )
    photo = BufferedInputFile(b"png", filename="p.png")
    assert await refusal(bot.send_photo(GROUP, photo, caption="a < b", parse_mode="HTML")) == (
        'Bad Request: can\'t parse entities: Unsupported start tag "" at byte offset 2'
    )
    assert len(fake_telegram.sent) == 2


async def test_length_and_emptiness_refusals(bot: Bot, fake_telegram: FakeTelegram) -> None:
    photo = BufferedInputFile(b"png", filename="p.png")
    longest = await bot.send_message(GROUP, "&lt;" * 4096, parse_mode="HTML")  # counted after parsing
    refused = [
        await refusal(bot.send_message(GROUP, "x" * 4097)),
        await refusal(bot.send_message(GROUP, "&amp;" * 4097, parse_mode="HTML")),
        await refusal(bot.send_message(GROUP, "я" * 20000)),  # over 32 KiB as sent
        await refusal(bot.send_message(GROUP, "")),
        await refusal(bot.send_message(GROUP, "<b> </b>", parse_mode="HTML")),
        await refusal(bot.send_photo(GROUP, photo, caption="c" * 1025)),
    ]

    assert refused == [
        "Bad Request: message is too long",
        "Bad Request: message is too long",
        "Bad Request: text is too long",
        "Bad Request: message text is empty",
        "Bad Request: text must be non-empty",
        "Bad Request: message caption is too long",
    ]
    assert longest.text == "<" * 4096
    assert len(fake_telegram.sent) == 1


async def test_injected_entity_errors(bot: Bot, fake_telegram: FakeTelegram) -> None:
    description = 'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0'
    fake_telegram.inject_error(400, description, times=2)
    first = await refusal(bot.send_message(GROUP, "fine"))
    second = await refusal(bot.send_photo(GROUP, BufferedInputFile(b"png", filename="p.png")))
    await bot.send_message(GROUP, "fine again")

    assert first == second == description
    assert [s.plain for s in fake_telegram.sent] == ["fine again"]


async def test_chat_errors(bot: Bot, fake_telegram: FakeTelegram) -> None:
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(-999, "hi")
    fake_telegram.inject_error(500, "Internal Server Error")
    with pytest.raises(TelegramServerError):
        await bot.send_message(GROUP, "hi")
    wrong = make_bot(fake_telegram, "999:WRONG")
    with pytest.raises(TelegramUnauthorizedError):
        await wrong.get_me()
    await wrong.session.close()


async def test_send_photo_upload() -> None:
    posted: list[SentMessage] = []
    fake = FakeTelegram(on_post=posted.append)
    async with fake:
        fake.add_chat(GROUP)
        other = make_bot(fake)
        photo = BufferedInputFile(b"\x89PNG receipt", filename="receipt.png")
        message = await other.send_photo(GROUP, photo, caption="<b>Receipt</b>", parse_mode="HTML")
        with pytest.raises(TelegramBadRequest, match="message caption is too long"):
            await other.send_photo(GROUP, photo, caption="c" * 1025)
        with pytest.raises(TelegramBadRequest, match="file is too big"):
            await other.send_photo(GROUP, BufferedInputFile(bytes(10 * 1024 * 1024 + 1), filename="big.png"))
        await other.session.close()

    assert message.photo and message.photo[-1].file_size == len(b"\x89PNG receipt")
    assert message.caption == "Receipt"
    assert [p.media_kind for p in posted] == ["photo"]
    assert posted[0].media_bytes == b"\x89PNG receipt" and posted[0].file_name == "receipt.png"
    assert posted[0].plain_caption == "Receipt" and posted[0].caption == "<b>Receipt</b>"


async def test_send_document_by_url(bot: Bot, fake_telegram: FakeTelegram, fake_bybit: FakeBybit) -> None:
    order = fake_bybit.add_order()
    path = fake_bybit.post_media(order.id, "pdf", b"%PDF-1.4 statement", "statement.pdf")["message"]

    message = await bot.send_document(GROUP, fake_bybit.media_base + path)
    video = await bot.send_video(GROUP, BufferedInputFile(b"mp4", filename="clip.mp4"))
    fake_bybit.clock_offset_ms = 4 * 3600 * 1000  # the link has expired
    with pytest.raises(TelegramBadRequest, match="failed to get HTTP URL content"):
        await bot.send_document(GROUP, fake_bybit.media_base + path)

    assert message.document is not None and message.document.mime_type == "application/pdf"
    assert video.video is not None and video.video.file_name == "clip.mp4"
    sent = fake_telegram.sent[0]
    assert sent.media_bytes == b"%PDF-1.4 statement" and sent.media_url == fake_bybit.media_base + path


async def test_get_updates_long_poll(bot: Bot, fake_telegram: FakeTelegram) -> None:
    empty = await bot.get_updates(timeout=0)
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    message_id = fake_telegram.user_says(GROUP, "/watch 1898976123321221121")
    updates = await asyncio.wait_for(poll, 2)
    again = await bot.get_updates(offset=updates[-1].update_id, timeout=0)
    confirmed = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)

    assert empty == []
    message = updates[0].message
    assert message is not None and message.message_id == message_id and message.text is not None
    assert message.entities is not None and message.entities[0].type == "bot_command"
    assert message.entities[0].length == len("/watch")
    assert [u.update_id for u in again] == [updates[0].update_id]
    assert confirmed == []


async def test_dispatcher_polling_round_trip(bot: Bot, fake_telegram: FakeTelegram) -> None:
    dispatcher = Dispatcher()

    @dispatcher.message(Command("ping"))
    async def ping(message: Message) -> None:
        await message.reply("pong")

    polling = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False, polling_timeout=1))
    asked = fake_telegram.user_says(GROUP, "/ping@p2p_bridge_bot")
    await fake_telegram.wait_for(lambda: bool(fake_telegram.sent), timeout=5)
    await dispatcher.stop_polling()
    await polling

    assert fake_telegram.sent[0].plain == "pong" and fake_telegram.sent[0].reply_to == asked


async def test_replies_and_pins(bot: Bot, fake_telegram: FakeTelegram) -> None:
    original = await bot.send_message(GROUP, "order card")
    human = fake_telegram.user_says(GROUP, "done", reply_to_message_id=original.message_id)
    answer = await bot.send_message(GROUP, "noted", reply_parameters=ReplyParameters(message_id=human))
    pinned = await bot.pin_chat_message(GROUP, original.message_id)
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(GROUP, "x", reply_parameters=ReplyParameters(message_id=999))

    assert answer.reply_to_message is not None and answer.reply_to_message.message_id == human
    assert answer.reply_to_message.text == "done"
    assert pinned is True and fake_telegram.chats[GROUP].pinned == [original.message_id]
    update = (await bot.get_updates())[0]
    assert update.message is not None and update.message.reply_to_message is not None
    assert update.message.reply_to_message.message_id == original.message_id


async def test_injected_retry_after(bot: Bot, fake_telegram: FakeTelegram) -> None:
    fake_telegram.inject_retry_after(retry_after=3)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(GROUP, "first")
    await bot.send_message(GROUP, "second")

    assert caught.value.retry_after == 3
    assert fake_telegram.flood_errors == 1
    assert [s.plain for s in fake_telegram.sent] == ["second"]


async def test_enforced_flood_limits() -> None:
    async with FakeTelegram(enforce_flood_limits=True) as fake:
        fake.add_chat(PRIVATE, type="private", title="Alice")
        fake.add_chat(GROUP)
        bot = make_bot(fake)
        await bot.send_message(PRIVATE, "one")
        with pytest.raises(TelegramRetryAfter) as private_wait:
            await bot.send_message(PRIVATE, "two")
        for i in range(20):
            await bot.send_message(GROUP, f"burst {i}")
        with pytest.raises(TelegramRetryAfter) as group_wait:
            await bot.send_message(GROUP, "21st")
        await bot.session.close()

    assert private_wait.value.retry_after == 1
    assert 55 <= group_wait.value.retry_after <= 60
    assert fake.flood_errors == 2 and len(fake.sent) == 21


async def test_migrate_and_kick(bot: Bot, fake_telegram: FakeTelegram) -> None:
    fake_telegram.add_chat(-5, type="group", title="Old group")
    fake_telegram.migrate_chat(-5, -1005)
    with pytest.raises(TelegramMigrateToChat) as migrated:
        await bot.send_message(-5, "hi")
    await bot.send_message(-1005, "hi again")

    fake_telegram.kick_bot(GROUP)
    with pytest.raises(TelegramForbiddenError, match="bot was kicked from the supergroup chat"):
        await bot.send_message(GROUP, "hi")
    fake_telegram.restore_bot(GROUP)
    await bot.send_message(GROUP, "back")

    assert migrated.value.migrate_to_chat_id == -1005
    updates = await bot.get_updates()
    kinds = [u.event_type for u in updates]
    assert kinds == ["message", "message", "my_chat_member", "my_chat_member"]
    kicked = updates[2].my_chat_member
    assert kicked is not None and kicked.new_chat_member.status == "kicked"
    assert [s.chat_id for s in fake_telegram.sent] == [-1005, GROUP]


async def test_forum_topics(bot: Bot, fake_telegram: FakeTelegram) -> None:
    topic = await bot.create_forum_topic(FORUM, "Order 1898976123321221121")
    in_topic = await bot.send_message(FORUM, "hello topic", message_thread_id=topic.message_thread_id)
    said = fake_telegram.user_says(FORUM, "from a human", thread_id=topic.message_thread_id)
    await bot.edit_forum_topic(FORUM, topic.message_thread_id, name="Order 1 (paid)")
    await bot.close_forum_topic(FORUM, topic.message_thread_id)
    await bot.delete_forum_topic(FORUM, topic.message_thread_id)
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(FORUM, "lost", message_thread_id=topic.message_thread_id)
    second = await bot.create_forum_topic(FORUM, "Order 2")
    fake_telegram.delete_topic(FORUM, second.message_thread_id)
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(FORUM, "lost", message_thread_id=second.message_thread_id)
    with pytest.raises(TelegramBadRequest, match="the chat is not a forum"):
        await bot.create_forum_topic(GROUP, "nope")

    assert in_topic.message_thread_id == topic.message_thread_id and in_topic.is_topic_message
    quoted = in_topic.reply_to_message
    assert quoted is not None and quoted.forum_topic_created is not None
    assert fake_telegram.sent[0].thread_id == topic.message_thread_id and fake_telegram.sent[0].reply_to is None
    human = (await bot.get_updates())[0].message
    assert human is not None and human.message_id == said and human.message_thread_id == topic.message_thread_id
    assert human.reply_to_message is not None and human.reply_to_message.message_id == topic.message_thread_id
    assert topic.message_thread_id not in fake_telegram.chats[FORUM].topics


async def test_commands_chat_info_and_wait_for(bot: Bot, fake_telegram: FakeTelegram) -> None:
    commands = [BotCommand(command="watch", description="Watch an order")]
    await bot.set_my_commands(commands, scope=BotCommandScopeAllGroupChats())
    scoped = await bot.get_my_commands(scope=BotCommandScopeAllGroupChats())
    default = await bot.get_my_commands()
    chat = await bot.get_chat(FORUM)
    member = await bot.get_chat_member(FORUM, 123456)
    admins = await bot.get_chat_administrators(FORUM)

    assert [(c.command, c.description) for c in scoped] == [("watch", "Watch an order")] and default == []
    assert [r.method for r in fake_telegram.requests].count("setMyCommands") == 1
    assert chat.is_forum and chat.title == "Orders"
    assert member.status == "administrator" and len(admins) == 2
    with pytest.raises(AssertionError, match=r"condition not met within 0\.05 s; 0 message"):
        await fake_telegram.wait_for(lambda: False, timeout=0.05)


async def test_closed_topics(bot: Bot, fake_telegram: FakeTelegram) -> None:
    own = (await bot.create_forum_topic(FORUM, "Order 1")).message_thread_id
    theirs = fake_telegram.add_topic(FORUM, "Team talk")
    fake_telegram.set_bot_rights(FORUM, can_manage_topics=False)
    fake_telegram.close_topic(FORUM, own)
    fake_telegram.close_topic(FORUM, theirs)
    file = BufferedInputFile(b"data", filename="f.bin")

    await bot.send_message(FORUM, "its creator may still post", message_thread_id=own)
    closed = [
        bot.send_message(FORUM, "x", message_thread_id=theirs),
        bot.send_photo(FORUM, file, message_thread_id=theirs),
        bot.send_document(FORUM, file, message_thread_id=theirs),
        bot.send_video(FORUM, file, message_thread_id=theirs),
    ]
    assert [await refusal(call) for call in closed] == ["Bad Request: TOPIC_CLOSED"] * 4
    assert await refusal(bot.reopen_forum_topic(FORUM, theirs)) == (
        "Bad Request: not enough rights to close or open the topic"
    )
    assert await refusal(bot.edit_forum_topic(FORUM, theirs, name="Mine now")) == (
        "Bad Request: not enough rights to edit the topic"
    )
    fake_telegram.set_bot_rights(FORUM, can_manage_topics=True)
    await bot.send_message(FORUM, "an admin who manages topics may post", message_thread_id=theirs)
    await bot.reopen_forum_topic(FORUM, theirs)
    assert await refusal(bot.reopen_forum_topic(FORUM, theirs)) == "Bad Request: TOPIC_NOT_MODIFIED"

    assert [s.thread_id for s in fake_telegram.sent] == [own, theirs]
    assert not fake_telegram.chats[FORUM].topics[theirs].closed
    updates = await bot.get_updates()
    assert [u.event_type for u in updates] == ["message", "my_chat_member", "message", "message", "my_chat_member"]
    created, closing = updates[0].message, updates[3].message
    assert created is not None and created.forum_topic_created is not None and created.message_id == theirs
    assert closing is not None and closing.forum_topic_closed is not None and closing.message_thread_id == theirs
    fake_telegram.set_bot_rights(FORUM, can_delete_messages=False)
    assert await refusal(bot.delete_forum_topic(FORUM, theirs)) == "Bad Request: not enough rights to delete the topic"
    await bot.delete_forum_topic(FORUM, own)
    assert list(fake_telegram.chats[FORUM].topics) == [theirs]


async def test_bot_rights(bot: Bot, fake_telegram: FakeTelegram) -> None:
    file = BufferedInputFile(b"data", filename="f.bin")
    fake_telegram.restrict_bot(GROUP)
    refused = [
        await refusal(bot.send_message(GROUP, "x")),
        await refusal(bot.send_photo(GROUP, file)),
        await refusal(bot.send_document(GROUP, file)),
        await refusal(bot.send_video(GROUP, file)),
    ]
    restricted = await bot.get_chat_member(GROUP, BOT_ID)
    admins = await bot.get_chat_administrators(GROUP)
    fake_telegram.restrict_bot(GROUP, can_send_messages=True)
    card = await bot.send_message(GROUP, "text is allowed again")
    photo_refused = await refusal(bot.send_photo(GROUP, file))
    fake_telegram.unrestrict_bot(GROUP)
    await bot.send_photo(GROUP, file)
    member_pin = await refusal(bot.pin_chat_message(GROUP, card.message_id))
    fake_telegram.set_bot_rights(GROUP, can_pin_messages=False)
    admin_pin = await refusal(bot.pin_chat_message(GROUP, card.message_id))
    fake_telegram.set_bot_rights(GROUP, can_pin_messages=True)
    await bot.pin_chat_message(GROUP, card.message_id)
    fake_telegram.set_bot_rights(FORUM, can_manage_topics=False)
    topic_refused = await refusal(bot.create_forum_topic(FORUM, "Order 2"))
    without_topics = await bot.get_chat_member(FORUM, BOT_ID)

    assert refused == [
        "Bad Request: not enough rights to send text messages to the chat",
        "Bad Request: not enough rights to send photos to the chat",
        "Bad Request: not enough rights to send documents to the chat",
        "Bad Request: not enough rights to send videos to the chat",
    ]
    assert photo_refused == "Bad Request: not enough rights to send photos to the chat"
    assert member_pin == admin_pin == "Bad Request: not enough rights to manage pinned messages in the chat"
    assert topic_refused == "Bad Request: not enough rights to create a topic"
    assert isinstance(restricted, ChatMemberRestricted) and not restricted.can_send_messages and restricted.is_member
    assert [a.status for a in admins] == ["creator"]
    assert isinstance(without_topics, ChatMemberAdministrator) and without_topics.can_manage_topics is False
    assert [s.method for s in fake_telegram.sent] == ["sendMessage", "sendPhoto"]
    assert fake_telegram.chats[GROUP].pinned == [card.message_id]

    changes = [u.my_chat_member for u in await bot.get_updates()]
    assert all(change is not None and change.new_chat_member.user.id == BOT_ID for change in changes)
    steps = [(c.old_chat_member.status, c.new_chat_member.status) for c in changes if c is not None]
    assert steps == [
        ("administrator", "restricted"),
        ("restricted", "restricted"),
        ("restricted", "member"),
        ("member", "administrator"),
        ("administrator", "administrator"),
        ("administrator", "administrator"),
    ]
    narrowed, lifted = changes[1], changes[2]
    assert narrowed is not None and isinstance(narrowed.new_chat_member, ChatMemberRestricted)
    assert narrowed.new_chat_member.can_send_messages and not narrowed.new_chat_member.can_send_photos
    assert lifted is not None and isinstance(lifted.new_chat_member, ChatMemberMember)
    fake_telegram.add_chat(-7, type="group", title="Basic")
    with pytest.raises(ValueError, match="only supergroups"):
        fake_telegram.restrict_bot(-7)


async def test_slow_response_after_accepting(bot: Bot, fake_telegram: FakeTelegram) -> None:
    impatient = make_bot(fake_telegram, timeout=0.3)
    fake_telegram.inject_slow_response(seconds=5)
    with pytest.raises(TelegramNetworkError, match="timeout"):
        await impatient.send_message(GROUP, "taken, but answered late")
    prompt = await impatient.send_message(GROUP, "answered at once")
    await impatient.session.close()

    assert [s.plain for s in fake_telegram.sent] == ["taken, but answered late", "answered at once"]
    assert prompt.message_id == 2


async def test_slow_response_ends_when_the_server_stops() -> None:
    fake = FakeTelegram()
    await fake.start()
    fake.add_chat(GROUP)
    bot = make_bot(fake)
    fake.inject_slow_response(seconds=30, method="sendMessage")
    sending = asyncio.create_task(bot.send_message(GROUP, "held"))
    await fake.wait_for(lambda: bool(fake.sent), timeout=5)
    started = time.monotonic()
    await fake.stop()
    stopped_in = time.monotonic() - started
    await asyncio.gather(sending, return_exceptions=True)
    await bot.session.close()

    assert stopped_in < 0.5
    assert [s.plain for s in fake.sent] == ["held"]


# -- files users send, getFile and downloads -------------------------------------------------------------


async def test_user_photo_arrives_and_downloads(bot: Bot, fake_telegram: FakeTelegram) -> None:
    topic = fake_telegram.add_topic(FORUM, "Order 1")
    card = await bot.send_message(FORUM, "order card", message_thread_id=topic)
    message_id = fake_telegram.user_sends_photo(
        FORUM, b"\xff\xd8 receipt", caption="/pay done", thread_id=topic, reply_to_message_id=card.message_id
    )

    message = (await bot.get_updates())[-1].message
    assert message is not None and message.message_id == message_id and message.photo is not None
    largest = message.photo[-1]
    file = await bot.get_file(largest.file_id)
    downloaded = await bot.download(largest.file_id)
    thumbnail = await bot.download(message.photo[0])

    assert [(size.width, size.height) for size in message.photo] == [(90, 68), (1280, 960)]
    assert largest.file_size == len(b"\xff\xd8 receipt") and len({s.file_unique_id for s in message.photo}) == 2
    assert message.caption == "/pay done" and message.caption_entities is not None
    assert message.caption_entities[0].type == "bot_command" and message.caption_entities[0].length == 4
    assert message.message_thread_id == topic and message.reply_to_message is not None
    assert message.reply_to_message.message_id == card.message_id
    assert message.from_user is not None and message.from_user.first_name == "Alice"
    assert (file.file_id, file.file_unique_id, file.file_size) == (largest.file_id, largest.file_unique_id, 10)
    assert file.file_path is not None and file.file_path.startswith("photos/") and file.file_path.endswith(".jpg")
    assert downloaded is not None and downloaded.read() == b"\xff\xd8 receipt"
    assert thumbnail is not None and thumbnail.read() != b"\xff\xd8 receipt"


async def test_user_document_arrives_and_downloads(bot: Bot, fake_telegram: FakeTelegram) -> None:
    message_id = fake_telegram.user_sends_document(
        GROUP, b"%PDF-1.4 bill", "bill.pdf", "application/pdf", user_id=9, first_name="Bob"
    )

    message = (await bot.get_updates())[-1].message
    assert message is not None and message.document is not None
    file = await bot.get_file(message.document.file_id)
    again = await bot.get_file(message.document.file_id)
    downloaded = await bot.download(message.document)

    assert message.message_id == message_id and message.caption is None and message.photo is None
    assert message.from_user is not None and (message.from_user.id, message.from_user.first_name) == (9, "Bob")
    document = message.document
    assert (document.file_name, document.mime_type, document.file_size) == ("bill.pdf", "application/pdf", 13)
    assert file.file_path is not None and file.file_path.startswith("documents/") and file.file_path.endswith(".pdf")
    assert again.file_path == file.file_path
    assert downloaded is not None and downloaded.read() == b"%PDF-1.4 bill"


async def test_user_videos_voice_notes_stickers_and_audio_arrive_as_telegram_gives_them(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.user_sends_file(GROUP, "video", b"mp4", mime_type="video/mp4", file_name="v.mp4", caption="see")
    fake_telegram.user_sends_file(GROUP, "voice", b"ogg")
    fake_telegram.user_sends_file(GROUP, "video_note", b"round")
    fake_telegram.user_sends_file(GROUP, "sticker", b"webp")
    for data in (b"mp3 1", b"mp3 2"):
        fake_telegram.user_sends_file(GROUP, "audio", data, mime_type="audio/mpeg", media_group_id="album-1")

    messages = [u.message for u in await bot.get_updates() if u.message is not None]
    assert [m.content_type for m in messages] == ["video", "voice", "video_note", "sticker", "audio", "audio"]
    video, voice = messages[0].video, messages[1].voice
    assert video is not None and (video.mime_type, video.file_name, messages[0].caption) == (
        "video/mp4",
        "v.mp4",
        "see",
    )
    assert voice is not None and voice.mime_type == "audio/ogg"
    assert [m.media_group_id for m in messages[4:]] == ["album-1", "album-1"]
    note = messages[2].video_note
    assert note is not None
    path = (await bot.get_file(note.file_id)).file_path
    assert path is not None and path.startswith("video_notes/")
    with pytest.raises(ValueError, match="no caption"):
        fake_telegram.user_sends_file(GROUP, "sticker", b"webp", caption="hi")


async def test_messages_posted_as_the_group_or_a_channel_carry_sender_chat(
    bot: Bot, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.user_says(GROUP, "as the group", anonymous="group")
    fake_telegram.user_says(GROUP, "as a channel", anonymous="channel")
    fake_telegram.user_says(GROUP, "as myself")

    posted = [u.message for u in await bot.get_updates() if u.message is not None]
    senders = [
        (m.from_user and m.from_user.id, m.sender_chat and (m.sender_chat.id, m.sender_chat.type)) for m in posted
    ]
    assert senders == [(1087968824, (GROUP, "supergroup")), (136817688, (-1002000000001, "channel")), (777, None)]


async def test_files_the_bot_sent_download(bot: Bot) -> None:
    sent = await bot.send_document(GROUP, BufferedInputFile(b"statement", "statement.pdf"))

    assert sent.document is not None
    downloaded = await bot.download(sent.document)

    assert downloaded is not None and downloaded.read() == b"statement"


async def test_get_file_refusals(bot: Bot, fake_telegram: FakeTelegram) -> None:
    fake_telegram.user_sends_document(GROUP, b"x" * (20 * 1024 * 1024 + 1), "huge.mp4", "video/mp4")
    fake_telegram.user_sends_document(GROUP, b"x" * (20 * 1024 * 1024), "limit.mp4", "video/mp4")
    huge, limit = [u.message.document for u in await bot.get_updates() if u.message is not None]
    assert huge is not None and limit is not None

    assert await refusal(bot.get_file(huge.file_id)) == "Bad Request: file is too big"
    assert await refusal(bot.get_file("SANDBOX-document-999")) == "Bad Request: invalid file_id"
    assert (await bot.get_file(limit.file_id)).file_size == 20 * 1024 * 1024


async def test_file_downloads_need_the_token_and_a_given_path(bot: Bot, fake_telegram: FakeTelegram) -> None:
    fake_telegram.user_sends_document(GROUP, b"data", "a.pdf", "application/pdf")
    message = (await bot.get_updates())[-1].message
    assert message is not None and message.document is not None
    path = (await bot.get_file(message.document.file_id)).file_path

    async with aiohttp.ClientSession(fake_telegram.url) as client:
        statuses = [
            (await client.get(url)).status
            for url in (f"/file/bot{TOKEN}/{path}", f"/file/bot1:WRONG/{path}", f"/file/bot{TOKEN}/documents/nope.pdf")
        ]

    assert statuses == [200, 404, 404]


async def test_kicked_bot_gets_no_file_updates(bot: Bot, fake_telegram: FakeTelegram) -> None:
    fake_telegram.kick_bot(GROUP)
    fake_telegram.user_sends_photo(GROUP, b"photo")
    fake_telegram.user_sends_document(GROUP, b"doc", "a.pdf", "application/pdf")

    assert [u.event_type for u in await bot.get_updates()] == ["my_chat_member"]
    with pytest.raises(ValueError, match="no topic"):
        fake_telegram.user_sends_photo(FORUM, b"photo", thread_id=404)
