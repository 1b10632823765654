"""A fake Telegram Bot API server, faithful enough for the real aiogram 3 client.

Point a bot at it with ``Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.url)))``.
It keeps chats, forum topics and per-chat message ids, checks what Telegram checks (HTML, lengths, sizes,
threads, replies, the bot's rights, closed topics), fetches media URLs like Telegram does, queues updates for
long polling (users' texts, photos, documents, videos, voice and video notes, stickers, audio), serves files
through ``getFile`` and ``/file/bot<token>/<path>`` as the Bot API does, and can answer with the errors aiogram
maps to exceptions (429, 400 + ``migrate_to_chat_id``, 403, …) or accept a call and answer it late.

Refusal texts are Telegram's own. Most come from the Bot API server (tdlib/telegram-bot-api ``Client.cpp``) and
TDLib (tdlib/td ``td/telegram/*.cpp``), read at their 2026 heads; the Bot API server writes them as
``Bad Request: `` + TDLib's text with its first letter lowered, unless the text is an UPPER_CASE server code.
"""

from bridge.sandbox.fake_telegram._chats import FakeChat, FakeTopic
from bridge.sandbox.fake_telegram._server import FakeTelegram, RecordedCall
from bridge.sandbox.fake_telegram._world import SentMessage
from bridge.sandbox.fake_telegram.constants import (
    MAX_CAPTION_CHARS,
    MAX_TEXT_CHARS,
    MAX_TOPIC_NAME_CHARS,
    OWNER_ID,
    OWNER_NAME,
    Anonymity,
    ChatType,
    FileKind,
    UserFileKind,
)

__all__ = [
    "MAX_CAPTION_CHARS",
    "MAX_TEXT_CHARS",
    "MAX_TOPIC_NAME_CHARS",
    "OWNER_ID",
    "OWNER_NAME",
    "Anonymity",
    "ChatType",
    "FakeChat",
    "FakeTelegram",
    "FakeTopic",
    "FileKind",
    "RecordedCall",
    "SentMessage",
    "UserFileKind",
]
