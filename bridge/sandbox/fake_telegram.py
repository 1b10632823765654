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

from __future__ import annotations

import asyncio
import json
import math
import mimetypes
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Final, Literal, TypeVar

import aiohttp
from aiohttp import web
from yarl import URL

from bridge.sandbox._server import LoopbackServer

ChatType = Literal["private", "group", "supergroup"]
MediaKind = Literal["photo", "document", "video"]
"""The files the bot sends."""
FileKind = Literal["photo", "document", "video", "voice", "video_note", "sticker", "audio"]
"""The files a message may carry (users send all of these)."""
UserFileKind = Literal["video", "voice", "video_note", "sticker", "audio"]
BotStatus = Literal["administrator", "member", "restricted", "kicked"]

MAX_TEXT_CHARS: Final = 4096
MAX_CAPTION_CHARS: Final = 1024
MAX_RAW_TEXT_BYTES: Final = 1 << 15  # text or caption as sent, before parsing (Client::get_formatted_text)
MAX_TOPIC_NAME_CHARS: Final = 128
URL_FETCH_TIMEOUT: Final = 5.0
DEFAULT_TOPIC_COLOR: Final = 7322096
_MB = 1024 * 1024
MAX_DOWNLOAD_BYTES: Final = 20 * _MB  # the largest file getFile lets a bot download
_SIZE_LIMITS: Final[dict[MediaKind, tuple[int, int]]] = {  # (by upload, by URL)
    "photo": (10 * _MB, 5 * _MB),
    "document": (50 * _MB, 20 * _MB),
    "video": (50 * _MB, 20 * _MB),
}
REACTION_EMOJI: Final = frozenset(
    [
        "👍",
        "👎",
        "❤",
        "🔥",
        "🥰",
        "👏",
        "😁",
        "🤔",
        "🤯",
        "😱",
        "🤬",
        "😢",
        "🎉",
        "🤩",
        "🙏",
        "👌",
        "🕊",
        "🤝",
        "✍",
        "🤗",
        "🫡",
        "👀",
        "💯",
        "⚡",
        "🏆",
    ]
)
"""Some of the emoji the Bot API allows as a reaction (ReactionTypeEmoji); anything else is REACTION_INVALID."""
_PRIVATE_PACE = (1, 1.0)  # messages per seconds, sliding window
_GROUP_PACE = (20, 60.0)
_GLOBAL_PACE = (30, 1.0)
_SEND_METHODS = frozenset({"sendmessage", "sendphoto", "senddocument", "sendvideo"})
_PARSE_MODES = frozenset({"html", "markdown", "markdownv2"})
_API_PATH = re.compile(r"/bot([^/]+)/([A-Za-z]+)")
_FILE_PATH = re.compile(r"/file/bot([^/]+)/(.+)")
_FILE_FOLDERS: Final[dict[FileKind, str]] = {
    "photo": "photos",
    "document": "documents",
    "video": "videos",
    "voice": "voice",
    "video_note": "video_notes",
    "sticker": "stickers",
    "audio": "music",
}
_PHOTO_SIZES: Final = ((90, 68), (1280, 960))  # (width, height): a thumbnail, then the photo itself
_THUMBNAIL: Final = b"SANDBOX-THUMBNAIL"
"""The bytes of a user photo's thumbnail size: not the photo, so only the largest size gives the real bytes."""
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
Anonymity = Literal["group", "channel"]
"""How a message may be posted without its author: by an anonymous admin as the group, or as a channel."""
GROUP_ANONYMOUS_BOT: Final = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
"""The ``from`` Telegram gives a message an anonymous admin posted as the group."""
CHANNEL_BOT: Final = {"id": 136817688, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"}
"""The ``from`` Telegram gives a message posted in a group as a channel."""
POSTING_CHANNEL: Final = {"id": -1002000000001, "type": "channel", "title": "Merchant news"}
"""The channel messages posted "as a channel" come from."""
OWNER_ID: Final = 777
OWNER_NAME: Final = "Alice"
_OWNER: Final = {"id": OWNER_ID, "is_bot": False, "first_name": OWNER_NAME}
_ADMIN_RIGHTS: Final = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": False,
    "can_restrict_members": False,
    "can_promote_members": False,
    "can_change_info": False,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
    "can_send_welcome_messages": False,
    "can_pin_messages": True,
    "can_manage_topics": True,
}
_PERMISSIONS: Final = (  # a restricted member's fields, in the Bot API's order (Client::json_store_permissions)
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_react_to_messages",
    "can_edit_tag",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
)
_MEDIA_PERMISSIONS: Final = _PERMISSIONS[1:7]  # what the legacy can_send_media_messages sums up
# What a send needs and how Telegram names it when missing (TDLib can_send_message_content, MessageContent.cpp).
_SEND_RIGHTS: Final[dict[str, tuple[str, str]]] = {
    "text": ("can_send_messages", "text messages"),
    "photo": ("can_send_photos", "photos"),
    "document": ("can_send_documents", "documents"),
    "video": ("can_send_videos", "videos"),
}
_KICKED: Final[dict[ChatType, str]] = {
    "private": "Forbidden: bot was blocked by the user",
    "group": "Forbidden: bot was kicked from the group chat",
    "supergroup": "Forbidden: bot was kicked from the supergroup chat",
}

# Telegram's HTML subset, as TDLib's parse_html (td/telegram/MessageEntity.cpp) reads it.
_HTML_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler", "tg-emoji", "tg-time", "span"}
    | {"pre", "code", "blockquote"}
)
_HTML_NAMED: Final = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}
_SPACES: Final = b" \t\r\n\v\x00"  # TDLib's is_space; NUL also stands for the end of the input
_NAME_STOPS: Final = _SPACES + b"=>/\"'"
_TOKEN_CHARS: Final = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
_DIGITS: Final = {10: frozenset(b"0123456789"), 16: frozenset(b"0123456789abcdefABCDEF")}


@dataclass(frozen=True)
class SentMessage:
    """A message the bot sent successfully, as the fake recorded it.

    ``text``/``caption`` are raw as sent; ``plain``/``plain_caption`` have HTML tags stripped and entities
    decoded (equal to the raw text without ``parse_mode="HTML"``). ``media_bytes`` holds the uploaded or
    fetched file; ``media_url`` is set when the bot passed a URL.
    """

    method: str
    chat_id: int
    message_id: int
    time: float
    parse_mode: str | None = None
    text: str | None = None
    plain: str | None = None
    caption: str | None = None
    plain_caption: str | None = None
    media_kind: FileKind | None = None
    media_bytes: bytes | None = None
    file_name: str | None = None
    media_url: str | None = None
    thread_id: int | None = None
    reply_to: int | None = None


@dataclass(frozen=True)
class RecordedCall:
    """One API call: its method name and its non-file parameters as received."""

    method: str
    params: dict[str, Any]
    time: float


@dataclass
class FakeTopic:
    """A forum topic; ``thread_id`` is the id of its creation service message, as in Telegram.

    ``by_bot`` marks a topic the bot created: Telegram lets a topic's creator post in it, close, reopen and
    edit it without the ``can_manage_topics`` right.
    """

    thread_id: int
    name: str
    icon_color: int
    closed: bool = False
    by_bot: bool = True


@dataclass
class FakeChat:
    """A chat the bot is in; ``messages`` holds every message by id, as Telegram would quote it."""

    id: int
    type: ChatType
    title: str
    is_forum: bool = False
    topics: dict[int, FakeTopic] = field(default_factory=dict)
    pinned: list[int] = field(default_factory=list)
    migrated_to: int | None = None
    bot_status: BotStatus = "administrator"
    bot_rights: dict[str, bool] = field(default_factory=lambda: dict(_ADMIN_RIGHTS))
    """The bot's administrator rights, while ``bot_status`` is ``"administrator"``."""
    bot_permissions: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(_PERMISSIONS, False))
    """What the bot may do, while ``bot_status`` is ``"restricted"``."""
    messages: dict[int, dict[str, Any]] = field(default_factory=dict, repr=False)
    last_message_id: int = 0

    @property
    def bot_kicked(self) -> bool:
        """Whether the bot was removed from (or, in a private chat, blocked by) the chat."""
        return self.bot_status == "kicked"

    def bot_may(self, right: str) -> bool:
        """Whether the bot holds ``right`` (e.g. ``can_pin_messages``) as an administrator or a restricted member.

        A plain member holds none: the fake's chats do not grant members pins or topics.
        """
        if self.bot_status == "administrator":
            return self.bot_rights.get(right, False)
        return self.bot_status == "restricted" and self.bot_permissions.get(right, False)

    def bot_manages(self, topic: FakeTopic) -> bool:
        """Whether the bot may close, reopen, edit or post in a closed ``topic``.

        It may if it created the topic or is an administrator with ``can_manage_topics`` (a restricted member's
        permission does not count), as tdesktop's ``Data::ForumTopic::canWrite``/``canToggleClosed`` and TDLib's
        ``ForumTopicManager::can_send_message_to_forum_topic``/``can_edit_topics`` decide.
        """
        return topic.by_bot or (self.bot_status == "administrator" and self.bot_rights.get("can_manage_topics", False))

    def as_json(self) -> dict[str, Any]:
        """The ``Chat`` object Telegram embeds in messages."""
        if self.type == "private":
            return {"id": self.id, "type": self.type, "first_name": self.title}
        return {"id": self.id, "type": self.type, "title": self.title} | ({"is_forum": True} if self.is_forum else {})


@dataclass(frozen=True)
class _Upload:
    file_name: str
    data: bytes
    content_type: str


@dataclass(frozen=True)
class _Media:
    kind: FileKind
    data: bytes
    file_name: str
    mime_type: str
    url: str | None


@dataclass(frozen=True)
class _Target:
    chat: FakeChat
    thread_id: int | None
    reply_to: int | None


@dataclass
class _Plan:
    """Something to do to the next ``remaining`` calls of ``method`` (``None``: the send methods)."""

    method: str | None
    remaining: int
    after: int = field(default=0, kw_only=True)
    """How many matching calls pass untouched first."""

    def aims_at(self, method: str) -> bool:
        return method.lower() in _SEND_METHODS if self.method is None else self.method.lower() == method.lower()


@dataclass
class _Fault(_Plan):
    """Refuse the call."""

    status: int
    description: str
    retry_after: int | None = None
    page: bool = False
    """Answer with an HTML page (as a proxy in the way does), not Telegram's JSON."""
    taken: bool = False
    """Carry the call out first: only its answer is lost on the way back."""
    reset: bool = False
    """No answer at all: the connection is reset."""


@dataclass
class _Delay(_Plan):
    """Do the call, then hold its answer back ``seconds``."""

    seconds: float


_PlanT = TypeVar("_PlanT", bound=_Plan)


def _take(plans: list[_PlanT], method: str) -> _PlanT | None:
    """The first plan aimed at ``method``, counted as used once."""
    for plan in plans:
        if plan.aims_at(method):
            if plan.after:
                plan.after -= 1
                continue
            plan.remaining -= 1
            if plan.remaining <= 0:
                plans.remove(plan)
            return plan
    return None


class _ApiError(Exception):
    """A refusal in Telegram's ``{"ok": false, …}`` form."""

    def __init__(
        self, status: int, description: str, parameters: dict[str, int] | None = None, *, page: bool = False
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters
        self.page = page

    def response(self) -> web.Response:
        if self.page:
            return web.Response(status=self.status, text=self.description, content_type="text/html")
        payload: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            payload["parameters"] = self.parameters
        return web.json_response(payload, status=self.status)


def _reset(request: web.Request) -> web.Response:
    """Drop the connection without an answer (the response returned is never sent)."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response()


def _bad(reason: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {reason}")


def _retry_after(seconds: int) -> _ApiError:
    return _ApiError(429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds})


class _SlidingWindow:
    """At most ``limit`` events in any ``seconds``-long window."""

    def __init__(self, limit: int, seconds: float) -> None:
        self._limit = limit
        self._seconds = seconds
        self._stamps: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until one more event fits (0 when it fits now)."""
        while self._stamps and self._stamps[0] <= now - self._seconds:
            self._stamps.popleft()
        if len(self._stamps) < self._limit:
            return 0.0
        return self._stamps[-self._limit] + self._seconds - now

    def add(self, now: float) -> None:
        self._stamps.append(now)


@dataclass(frozen=True)
class _Params:
    """A call's parameters from the query, a JSON body or a form; form values arrive as strings."""

    values: dict[str, Any]
    files: dict[str, _Upload]

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None else str(value)

    def integer(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad(f"invalid {name} specified") from None

    def json(self, name: str) -> Any:
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise _bad(f"can't parse {name} JSON object") from None

    def flag(self, name: str) -> bool:
        return self.values.get(name) in (True, "true", "True", "1")

    def input_file(self, name: str) -> _Upload | str | None:
        """An uploaded part (``attach://<part>`` or a part named ``name``), or a URL / file_id string."""
        value = self.text(name)
        if value is not None and value.startswith("attach://"):
            upload = self.files.get(value.removeprefix("attach://"))
            if upload is None:
                raise _bad("wrong file identifier/HTTP URL specified")
            return upload
        return self.files.get(name) or value


async def _read_params(request: web.Request) -> _Params:
    values: dict[str, Any] = dict(request.query)
    files: dict[str, _Upload] = {}
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise _bad("can't parse JSON body") from None
        if isinstance(body, dict):
            values.update(body)
    elif request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                files[name] = _Upload(value.filename, value.file.read(), value.content_type)
            else:
                values[name] = value if isinstance(value, str) else bytes(value).decode()
    return _Params(values, files)


def _decode_html_entity(data: bytes, pos: int) -> tuple[str, int] | None:
    """The character ``&…`` at ``pos`` stands for and where it ends; ``None`` leaves the ``&`` as it is.

    As TDLib's ``decode_html_entity``: ``&lt; &gt; &amp; &quot;`` and ``&#N;``/``&#xH;``, the ``;`` optional.
    """
    end = pos + 1
    if data[end : end + 1] == b"#":
        end += 1
        base = 10
        if data[end : end + 1] == b"x":
            base, end = 16, end + 1
        first = end
        while end < len(data) and data[end] in _DIGITS[base]:
            end += 1
        code = int(data[first:end], base) if end > first else 0
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return None
        char = chr(code)
    else:
        first = end
        while end < len(data) and 0x61 <= (data[end] | 0x20) <= 0x7A:  # ASCII letter
            end += 1
        if (named := _HTML_NAMED.get(data[first:end])) is None:
            return None
        char = named
    return char, end + (data[end : end + 1] == b";")


def _is_emoji_id(argument: bytes) -> bool:
    """Whether ``emoji-id`` is a non-zero int64 written plainly (TDLib's ``to_integer_safe``)."""
    try:
        value = int(argument)
    except ValueError:
        return False
    return value != 0 and str(value).encode() == argument and -(2**63) <= value < 2**63


class _HtmlParser:
    """TDLib's ``parse_html`` (td/telegram/MessageEntity.cpp) ported: the text it keeps, or why it refuses.

    Telegram is lenient in places: a ``&`` that starts no known entity stays as it is, unknown attributes are
    ignored and ``</>`` closes the innermost tag; but every ``<`` opens a tag, so a bare ``<`` is an
    "Unsupported start tag". Offsets in the reasons are byte offsets into the UTF-8 text.
    """

    def __init__(self, raw: str) -> None:
        self._data = raw.encode()
        self._pos = 0
        self._out = bytearray()
        self._open: list[tuple[str, bytes, int]] = []  # tag, argument, output length where it started

    def parse(self) -> str:
        """The text without tags and with entities decoded; ``ValueError`` carries Telegram's reason."""
        data = self._data
        while self._pos < len(data):
            byte = data[self._pos]
            if byte == 0x26 and (entity := _decode_html_entity(data, self._pos)) is not None:  # &
                char, self._pos = entity
                self._out += char.encode("utf-8", "surrogatepass")
            elif byte != 0x3C:  # <
                self._out.append(byte)
                self._pos += 1
            elif data[self._pos + 1 : self._pos + 2] == b"/":
                self._end_tag()
            else:
                self._start_tag()
        if self._open:
            raise ValueError(f'Can\'t find end tag corresponding to start tag "{self._open[-1][0]}"')
        try:
            return self._out.decode()
        except UnicodeDecodeError:
            raise ValueError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            ) from None

    def _at(self, i: int) -> int:
        return self._data[i] if i < len(self._data) else 0

    def _skip_spaces(self, i: int) -> int:
        while self._at(i) and self._at(i) in _SPACES:
            i += 1
        return i

    def _skip_to_space_or_gt(self, i: int) -> int:
        while self._at(i) not in _SPACES and self._at(i) != 0x3E:  # >
            i += 1
        return i

    def _name(self, first: int, end: int) -> str:
        return self._data[first:end].lower().decode(errors="replace")

    def _start_tag(self) -> None:
        begin = self._pos
        i = self._skip_to_space_or_gt(begin + 1)
        if self._at(i) == 0:
            raise ValueError(f"Unclosed start tag at byte offset {begin}")
        tag = self._name(begin + 1, i)
        if tag not in _HTML_TAGS:
            raise ValueError(f'Unsupported start tag "{tag}" at byte offset {begin}')
        argument = b""
        while self._at(i) != 0x3E:
            i = self._skip_spaces(i)
            if self._at(i) == 0x3E:
                break
            i, name, value = self._attribute(i, tag, begin)
            if tag == "span" and name == b"class" and value is not None and value.startswith(b"tg-"):
                argument = value[3:]
            elif tag == "tg-emoji" and name == b"emoji-id" and value is not None:
                argument = value
        if tag == "span" and argument != b"spoiler":
            raise ValueError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
        self._open.append((tag, argument, len(self._out)))
        self._pos = i + 1

    def _attribute(self, i: int, tag: str, begin: int) -> tuple[int, bytes, bytes | None]:
        """One ``name[=value]`` from ``i``: where it ends, its name, and its value (``None`` without ``=``)."""
        first = i
        while self._at(i) not in _NAME_STOPS:
            i += 1
        name = self._data[first:i]
        if not name:
            raise ValueError(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
        i = self._skip_spaces(i)
        if self._at(i) != 0x3D:  # =
            if self._at(i) == 0:
                raise ValueError(f'Unclosed start tag "{tag}" at byte offset {begin}')
            return i, name, None
        i = self._skip_spaces(i + 1)
        if self._at(i) == 0:
            raise ValueError(f'Unclosed start tag "{tag}" at byte offset {begin}')
        if self._at(i) in b"\"'":
            i, value = self._quoted(i)
        else:
            token = i
            while self._at(i) in _TOKEN_CHARS:
                i += 1
            value = self._data[token:i].lower()
            if self._at(i) not in _SPACES and self._at(i) != 0x3E:
                raise ValueError(f"Unexpected end of name token at byte offset {token}")
        if self._at(i) == 0:
            raise ValueError(f"Unclosed start tag at byte offset {begin}")
        return i, name, value

    def _quoted(self, i: int) -> tuple[int, bytes]:
        quote = self._at(i)
        i += 1
        value = bytearray()
        while self._at(i) not in (quote, 0):
            if self._at(i) == 0x26 and (entity := _decode_html_entity(self._data, i)) is not None:
                char, i = entity
                value += char.encode("utf-8", "surrogatepass")
                continue
            value.append(self._at(i))
            i += 1
        return i + (self._at(i) == quote), bytes(value)

    def _end_tag(self) -> None:
        begin = self._pos
        if not self._open:
            raise ValueError(f"Unexpected end tag at byte offset {begin}")
        i = self._skip_to_space_or_gt(begin + 1)
        end_tag = self._name(begin + 2, i)
        i = self._skip_spaces(i)
        if self._at(i) != 0x3E:
            raise ValueError(f"Unclosed end tag at byte offset {begin}")
        tag, argument, start = self._open.pop()
        if end_tag and end_tag != tag:
            raise ValueError(f'Unmatched end tag at byte offset {begin}, expected "</{tag}>", found "</{end_tag}>"')
        if tag == "tg-emoji" and len(self._out) > start and not _is_emoji_id(argument):
            raise ValueError("Invalid custom emoji identifier specified")
        self._pos = i + 1


def _plain_text(raw: str, parse_mode: str | None) -> str:
    """What Telegram would display: HTML is checked and stripped; other parse modes are taken as is.

    Errors as in ``Client::get_formatted_text`` and TDLib's ``parseTextEntities``.
    """
    if len(raw.encode()) > MAX_RAW_TEXT_BYTES:
        raise _bad("text is too long")
    mode = (parse_mode or "none").lower()
    if mode == "none":
        return raw
    if mode not in _PARSE_MODES:
        raise _bad("unsupported parse_mode")
    if mode != "html":
        return raw
    try:
        return _HtmlParser(raw).parse()
    except ValueError as exc:
        raise _bad(f"can't parse entities: {exc}") from None


def _command_entities(field_name: str, text: str) -> dict[str, Any]:
    """``{field_name: [bot_command entity]}`` when ``text`` starts with a ``/command``, else ``{}``."""
    if not text.startswith("/"):
        return {}
    command = text.split(maxsplit=1)[0]
    return {field_name: [{"type": "bot_command", "offset": 0, "length": len(command.encode("utf-16-le")) // 2}]}


def _caption(caption: str | None) -> dict[str, Any]:
    """A user message's ``caption`` (and its command entity), or nothing."""
    if caption is None:
        return {}
    return {"caption": caption} | _command_entities("caption_entities", caption)


async def _fetch(url: str, limit: int) -> tuple[bytes, str]:
    """Download ``url`` the way Telegram does for media passed by URL."""
    failed = _bad("failed to get HTTP URL content")
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=URL_FETCH_TIMEOUT)) as session,
            session.get(url) as response,
        ):
            if response.status != 200:
                raise failed
            data = await response.read()
            content_type = response.content_type
    except (aiohttp.ClientError, TimeoutError):
        raise failed from None
    if len(data) > limit:
        raise _bad("file is too big")
    return data, content_type


class FakeTelegram(LoopbackServer):
    """Imitates ``api.telegram.org`` for one bot: ``/bot<token>/<method>`` over GET or POST."""

    def __init__(
        self,
        *,
        token: str = "123456:SANDBOX-TOKEN",
        bot_username: str = "p2p_bridge_bot",
        bot_id: int = 123456,
        on_post: Callable[[SentMessage], None] | None = None,
        enforce_flood_limits: bool = False,
        flood_scale: int = 1,
    ) -> None:
        super().__init__()
        self._token = token
        self._bot_user: dict[str, Any] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "P2P Bridge",
            "username": bot_username,
        }
        self._on_post = on_post
        self.enforce_flood_limits = enforce_flood_limits
        """Whether sends beyond Telegram's pace get 429; may be switched while the fake runs."""
        self._flood_scale = flood_scale
        """Multiplies every enforced limit's count, so tests can prove pacing at a faster pace."""
        self.chats: dict[int, FakeChat] = {}
        """Every chat by id, with its topics, pins and messages."""
        self.sent: list[SentMessage] = []
        """Every successful send, in order."""
        self.requests: list[RecordedCall] = []
        """Every authorised call to a known method, in order."""
        self.edits: list[tuple[int, int, str]] = []
        """Every edit of a bot message: (chat id, message id, new plain text)."""
        self.reactions: dict[tuple[int, int], list[str]] = {}
        """The bot's reaction on each (chat id, message id) it reacted to."""
        self.flood_errors = 0
        """How many 429 answers were given (injected or enforced)."""
        self._updates: list[dict[str, Any]] = []
        self._last_update_id = 0
        self._allowed_updates: frozenset[str] = frozenset()
        self._faults: list[_Fault] = []
        self._delays: list[_Delay] = []
        self._files: dict[str, _Media] = {}
        self._file_paths: dict[str, str] = {}
        """file_id → the ``file_path`` getFile gave it (stable, as Telegram's)."""
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._chat_windows: dict[int, _SlidingWindow] = {}
        self._global_window = self._scaled(_GLOBAL_PACE)
        self._methods: dict[str, Callable[[_Params], Awaitable[Any]]] = {
            "getme": self._get_me,
            "getfile": self._get_file,
            "deletewebhook": self._delete_webhook,
            "getupdates": self._get_updates,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "senddocument": self._send_document,
            "sendvideo": self._send_video,
            "pinchatmessage": self._pin_chat_message,
            "setmessagereaction": self._set_message_reaction,
            "editmessagetext": self._edit_message_text,
            "unpinchatmessage": self._unpin_chat_message,
            "getchat": self._get_chat,
            "getchatmember": self._get_chat_member,
            "getchatadministrators": self._get_chat_administrators,
            "createforumtopic": self._create_forum_topic,
            "editforumtopic": self._edit_forum_topic,
            "closeforumtopic": self._close_forum_topic,
            "reopenforumtopic": self._reopen_forum_topic,
            "deleteforumtopic": self._delete_forum_topic,
        }

    # -- control API -------------------------------------------------------------------------------

    @property
    def token(self) -> str:
        """The one bot token the fake accepts."""
        return self._token

    def add_chat(
        self, chat_id: int, *, type: ChatType = "supergroup", title: str = "Team", is_forum: bool = False
    ) -> FakeChat:
        """Put the bot (as an administrator) into a chat; ``title`` is the first name for private chats."""
        chat = self.chats[chat_id] = FakeChat(chat_id, type, title, is_forum)
        return chat

    def user_says(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int = OWNER_ID,
        first_name: str = OWNER_NAME,
        thread_id: int | None = None,
        reply_to_message_id: int | None = None,
        anonymous: Anonymity | None = None,
    ) -> int:
        """Queue a ``message`` update from a user and return its ``message_id``.

        A leading ``/command`` gets a ``bot_command`` entity; in a topic the message is a reply to the
        topic's creation message unless ``reply_to_message_id`` says otherwise (as in Telegram).
        ``anonymous`` posts it as the group (an anonymous admin) or as a channel: ``sender_chat`` says which,
        ``from`` is Telegram's stand-in bot, as in Telegram. A bot that was kicked from the chat gets no update.
        """
        content: dict[str, Any] = {"text": text} | _command_entities("entities", text)
        return self._user_message(
            chat_id,
            content,
            user_id=user_id,
            first_name=first_name,
            thread_id=thread_id,
            reply_to=reply_to_message_id,
            anonymous=anonymous,
        )

    def user_sends_photo(
        self,
        chat_id: int,
        data: bytes,
        *,
        caption: str | None = None,
        thread_id: int | None = None,
        reply_to_message_id: int | None = None,
        user_id: int = OWNER_ID,
        first_name: str = OWNER_NAME,
    ) -> int:
        """Queue a user's photo (as :meth:`user_says` does a text) and return its ``message_id``.

        Like Telegram, ``photo`` lists sizes smallest first: a thumbnail (whose file is not ``data``), then the
        photo, whose file is ``data``.
        """
        sizes = [
            self._issue_file(_Media("photo", thumb_or_photo, "", "image/jpeg", None)) | {"width": w, "height": h}
            for thumb_or_photo, (w, h) in zip((_THUMBNAIL, data), _PHOTO_SIZES, strict=True)
        ]
        content = {"photo": sizes} | _caption(caption)
        return self._user_message(
            chat_id,
            content,
            user_id=user_id,
            first_name=first_name,
            thread_id=thread_id,
            reply_to=reply_to_message_id,
        )

    def user_sends_document(
        self,
        chat_id: int,
        data: bytes,
        file_name: str,
        mime_type: str,
        *,
        caption: str | None = None,
        thread_id: int | None = None,
        reply_to_message_id: int | None = None,
        user_id: int = OWNER_ID,
        first_name: str = OWNER_NAME,
    ) -> int:
        """Queue a user's file sent as a document (as :meth:`user_says` does a text); return its ``message_id``."""
        ids = self._issue_file(_Media("document", data, file_name, mime_type, None))
        content = {"document": ids | {"file_name": file_name, "mime_type": mime_type}} | _caption(caption)
        return self._user_message(
            chat_id,
            content,
            user_id=user_id,
            first_name=first_name,
            thread_id=thread_id,
            reply_to=reply_to_message_id,
        )

    def user_sends_file(
        self,
        chat_id: int,
        kind: UserFileKind,
        data: bytes,
        *,
        mime_type: str = "",
        file_name: str = "",
        caption: str | None = None,
        media_group_id: str | None = None,
        thread_id: int | None = None,
        reply_to_message_id: int | None = None,
        user_id: int = OWNER_ID,
        first_name: str = OWNER_NAME,
    ) -> int:
        """Queue a user's video, voice message, round video note, sticker or audio file with the fields Telegram
        gives each (as :meth:`user_says` does a text); ``media_group_id`` makes it one item of an album.

        Like Telegram, video notes and stickers take no caption.
        """
        if caption is not None and kind in ("video_note", "sticker"):
            raise ValueError(f"a {kind} has no caption")
        ids = self._issue_file(_Media(kind, data, file_name, mime_type, None))
        named = {key: value for key, value in (("file_name", file_name), ("mime_type", mime_type)) if value}
        fields: dict[UserFileKind, dict[str, Any]] = {
            "video": named | {"width": 1280, "height": 720, "duration": 3},
            "voice": {"mime_type": mime_type or "audio/ogg", "duration": 3},
            "video_note": {"length": 384, "duration": 3},
            "sticker": {"type": "regular", "width": 512, "height": 512, "is_animated": False, "is_video": False},
            "audio": named | {"duration": 3},
        }
        content = {kind: ids | fields[kind]} | _caption(caption)
        if media_group_id is not None:
            content["media_group_id"] = media_group_id
        return self._user_message(
            chat_id,
            content,
            user_id=user_id,
            first_name=first_name,
            thread_id=thread_id,
            reply_to=reply_to_message_id,
        )

    def sent_to(self, chat_id: int) -> list[SentMessage]:
        """The messages sent to one chat, in order."""
        return [sent for sent in self.sent if sent.chat_id == chat_id]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Poll ``predicate`` every 20 ms; raise ``AssertionError`` (listing recent sends) after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                recent = "; ".join(
                    f"{s.method} → {s.chat_id}#{s.message_id}: {(s.plain or s.plain_caption or '')[:80]!r}"
                    for s in self.sent[-5:]
                )
                raise AssertionError(
                    f"condition not met within {timeout:g} s; {len(self.sent)} message(s) sent, "
                    f"last: {recent or 'none'}"
                )
            await asyncio.sleep(0.02)

    def inject_retry_after(self, times: int = 1, retry_after: int = 1, method: str | None = None) -> None:
        """Answer the next ``times`` send calls (or calls to ``method``) with 429 and ``retry_after``."""
        description = _retry_after(retry_after).description
        self._faults.append(_Fault(method, times, 429, description, retry_after))

    def inject_error(
        self,
        status: int,
        description: str,
        times: int = 1,
        method: str | None = None,
        *,
        after: int = 0,
        page: bool = False,
        taken: bool = False,
    ) -> None:
        """Answer the next ``times`` send calls (or calls to ``method``) with ``status`` and ``description``.

        E.g. ``inject_error(400, "Bad Request: can't parse entities: …", times=3)`` refuses the next three sends
        whatever their content, as a parse error would. ``after`` lets that many matching calls pass first.
        ``page`` answers with ``description`` as an HTML page instead of Telegram's JSON, as a proxy does;
        ``taken`` carries each call out first (a proxy's 502 after Telegram took the post).
        """
        self._faults.append(_Fault(method, times, status, description, after=after, page=page, taken=taken))

    def inject_reset(self, times: int = 1, method: str | None = None, *, after: int = 0, taken: bool = True) -> None:
        """Reset the connection of the next ``times`` send calls (or calls to ``method``) instead of answering.

        With ``taken`` (the default) each call is carried out first, as when the answer is lost on its way back.
        """
        self._faults.append(_Fault(method, times, 0, "connection reset", after=after, taken=taken, reset=True))

    def inject_slow_response(
        self, seconds: float, times: int = 1, method: str | None = None, *, after: int = 0
    ) -> None:
        """Carry out the next ``times`` send calls (or calls to ``method``) but answer each ``seconds`` late.

        The post is stored and recorded in :attr:`sent` at once, as Telegram takes it; a client whose timeout is
        shorter sees a timeout for a message that was delivered. :meth:`stop` cuts the wait short. ``after`` lets
        that many matching calls pass first.
        """
        self._delays.append(_Delay(method, times, seconds, after=after))

    def migrate_chat(self, old_id: int, new_id: int) -> FakeChat:
        """Upgrade a group to a supergroup with a new id; sends to the old id get ``migrate_to_chat_id``."""
        old = self.chats[old_id]
        new = self.add_chat(new_id, type="supergroup", title=old.title)
        old.migrated_to = new_id
        self._queue_update("message", self._new_message(old, _OWNER, None, None, {"migrate_to_chat_id": new_id}))
        self._queue_update("message", self._new_message(new, _OWNER, None, None, {"migrate_from_chat_id": old_id}))
        return new

    def kick_bot(self, chat_id: int) -> None:
        """Remove the bot from a chat (sends then get 403) and queue a ``my_chat_member`` update."""
        self._set_bot_standing(self.chats[chat_id], "kicked")

    def restore_bot(self, chat_id: int) -> None:
        """Add the bot back as an administrator with every default right and queue a ``my_chat_member`` update."""
        self._set_bot_standing(self.chats[chat_id], "administrator", rights=dict(_ADMIN_RIGHTS))

    def restrict_bot(
        self,
        chat_id: int,
        *,
        can_send_messages: bool = False,
        can_send_photos: bool = False,
        can_send_documents: bool = False,
        can_send_videos: bool = False,
    ) -> None:
        """Restrict the bot in a supergroup, as an admin would (taking its admin rights too).

        Every permission not named is withheld. Sends it may not make answer 400 "not enough rights to send …";
        queues a ``my_chat_member`` update whose new member is ``restricted``.
        """
        chat = self._chat_of_members(chat_id)
        if chat.type != "supergroup":
            raise ValueError("only supergroups restrict single members")
        permissions = dict.fromkeys(_PERMISSIONS, False) | {
            "can_send_messages": can_send_messages,
            "can_send_photos": can_send_photos,
            "can_send_documents": can_send_documents,
            "can_send_videos": can_send_videos,
        }
        self._set_bot_standing(chat, "restricted", permissions=permissions)

    def unrestrict_bot(self, chat_id: int) -> None:
        """Lift the bot's restrictions: it becomes a plain ``member`` (sends work; no pins, no topics).

        Queues a ``my_chat_member`` update; does nothing if the bot was not restricted.
        """
        chat = self._chat_of_members(chat_id)
        if chat.bot_status == "restricted":
            self._set_bot_standing(chat, "member")

    def set_bot_rights(
        self,
        chat_id: int,
        *,
        can_manage_topics: bool | None = None,
        can_pin_messages: bool | None = None,
        can_delete_messages: bool | None = None,
    ) -> None:
        """Make the bot an administrator with these rights changed (the others as they were, or the defaults).

        Without ``can_manage_topics`` createForumTopic is refused, and closing, reopening, editing or posting in a
        closed topic the bot did not create; without ``can_pin_messages`` pinning; without
        ``can_delete_messages`` deleting a topic it did not create. Queues a ``my_chat_member`` update if
        anything changed.
        """
        chat = self._chat_of_members(chat_id)
        changes = {
            "can_manage_topics": can_manage_topics,
            "can_pin_messages": can_pin_messages,
            "can_delete_messages": can_delete_messages,
        }
        rights = dict(chat.bot_rights if chat.bot_status == "administrator" else _ADMIN_RIGHTS)
        rights |= {right: value for right, value in changes.items() if value is not None}
        self._set_bot_standing(chat, "administrator", rights=rights)

    def add_topic(self, chat_id: int, name: str, *, icon_color: int = DEFAULT_TOPIC_COLOR) -> int:
        """Create a forum topic as the chat's owner (not the bot) and return its ``message_thread_id``.

        Queues the ``forum_topic_created`` service message as a ``message`` update.
        """
        chat = self.chats[chat_id]
        if not chat.is_forum:
            raise ValueError(f"chat {chat_id} is not a forum")
        created = {"forum_topic_created": {"name": name, "icon_color": icon_color}}
        thread_id = self._owner_service(chat, chat.last_message_id + 1, created)
        chat.topics[thread_id] = FakeTopic(thread_id, name, icon_color, by_bot=False)
        return thread_id

    def close_topic(self, chat_id: int, thread_id: int) -> None:
        """Close a forum topic as the chat's owner; queues the ``forum_topic_closed`` service message.

        Sends into it then answer 400 "TOPIC_CLOSED", unless the bot created the topic or may manage topics.
        """
        chat = self.chats[chat_id]
        topic = chat.topics[thread_id]
        if not topic.closed:
            topic.closed = True
            self._owner_service(chat, thread_id, {"forum_topic_closed": {}})

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """Delete a forum topic and its messages, as a human admin would."""
        chat = self.chats[chat_id]
        del chat.topics[thread_id]
        chat.messages = {
            message_id: message
            for message_id, message in chat.messages.items()
            if message.get("message_thread_id") != thread_id
        }

    # -- state helpers -----------------------------------------------------------------------------

    def _new_message(
        self,
        chat: FakeChat,
        sender: dict[str, Any],
        thread_id: int | None,
        reply_to: int | None,
        content: dict[str, Any],
    ) -> dict[str, Any]:
        """Create, store and return a ``Message``; in a topic it quotes the topic's creation message."""
        chat.last_message_id += 1
        message: dict[str, Any] = {
            "message_id": chat.last_message_id,
            "from": sender,
            "chat": chat.as_json(),
            "date": int(time.time()),
            **content,
        }
        if thread_id is not None:
            message |= {"message_thread_id": thread_id, "is_topic_message": True}
        quoted = chat.messages.get(reply_to if reply_to is not None else thread_id or 0)
        chat.messages[chat.last_message_id] = dict(message)
        if quoted is not None:
            message["reply_to_message"] = quoted
        return message

    def _user_message(
        self,
        chat_id: int,
        content: dict[str, Any],
        *,
        user_id: int,
        first_name: str,
        thread_id: int | None,
        reply_to: int | None,
        anonymous: Anonymity | None = None,
    ) -> int:
        """Post a user's message and queue it as an update (unless the bot is out); return its id."""
        chat = self.chats[chat_id]
        if thread_id is not None and thread_id not in chat.topics:
            raise ValueError(f"no topic {thread_id} in chat {chat_id}")
        if reply_to is not None and reply_to not in chat.messages:
            raise ValueError(f"no message {reply_to} in chat {chat_id}")
        sender = {"id": user_id, "is_bot": False, "first_name": first_name}
        if anonymous == "group":
            sender, content = dict(GROUP_ANONYMOUS_BOT), content | {"sender_chat": chat.as_json()}
        elif anonymous == "channel":
            sender, content = dict(CHANNEL_BOT), content | {"sender_chat": dict(POSTING_CHANNEL)}
        message = self._new_message(chat, sender, thread_id, reply_to, content)
        if not chat.bot_kicked:
            self._queue_update("message", message)
        return int(message["message_id"])

    def _issue_file(self, media: _Media) -> dict[str, Any]:
        """Keep a file under a new file_id; return the ids and size every file object carries."""
        number = len(self._files) + 1
        file_id = f"SANDBOX-{media.kind}-{number}"
        self._files[file_id] = media
        return {"file_id": file_id, "file_unique_id": f"u{number}", "file_size": len(media.data)}

    def _queue_update(self, kind: str, payload: dict[str, Any]) -> None:
        self._last_update_id += 1
        self._updates.append({"update_id": self._last_update_id, kind: payload})
        self._notify()

    def _chat_of_members(self, chat_id: int) -> FakeChat:
        """A group or supergroup the bot is in, for the control methods that change its standing."""
        chat = self.chats[chat_id]
        if chat.type == "private":
            raise ValueError("a private chat has no member rights")
        if chat.bot_kicked:
            raise ValueError(f"the bot is not in chat {chat_id}; restore_bot first")
        return chat

    def _owner_service(self, chat: FakeChat, thread_id: int | None, content: dict[str, Any]) -> int:
        """Post a service message from the owner and queue it as an update (unless the bot is out)."""
        message = self._new_message(chat, _OWNER, thread_id, None, content)
        if not chat.bot_kicked:
            self._queue_update("message", message)
        return int(message["message_id"])

    def _bot_member(self, chat: FakeChat) -> dict[str, Any]:
        """The bot's ``ChatMember`` in ``chat``, as the Bot API writes it (``Client::JsonChatMember``)."""
        member: dict[str, Any] = {"status": chat.bot_status, "user": self._bot_user}
        match chat.bot_status:
            case "administrator":
                return member | chat.bot_rights
            case "restricted":
                permissions = chat.bot_permissions
                media = any(permissions[name] for name in _MEDIA_PERMISSIONS)
                return member | {"until_date": 0, **permissions, "can_send_media_messages": media, "is_member": True}
            case "kicked":
                return member | {"until_date": 0}
            case "member":
                return member

    def _set_bot_standing(
        self,
        chat: FakeChat,
        status: BotStatus,
        *,
        rights: dict[str, bool] | None = None,
        permissions: dict[str, bool] | None = None,
    ) -> None:
        """Change the bot's standing in ``chat``; if that changed anything, queue ``my_chat_member``."""
        old = self._bot_member(chat)
        chat.bot_status = status
        if rights is not None:
            chat.bot_rights = rights
        if permissions is not None:
            chat.bot_permissions = permissions
        new = self._bot_member(chat)
        if new != old:
            change = {"chat": chat.as_json(), "from": _OWNER, "date": int(time.time())}
            self._queue_update("my_chat_member", change | {"old_chat_member": old, "new_chat_member": new})

    def _fault_error(self, fault: _Fault) -> _ApiError:
        if fault.retry_after is not None:
            self.flood_errors += 1
            return _retry_after(fault.retry_after)
        return _ApiError(fault.status, fault.description, page=fault.page)

    def _scaled(self, pace: tuple[int, float]) -> _SlidingWindow:
        return _SlidingWindow(pace[0] * self._flood_scale, pace[1])

    def _check_flood(self, chat: FakeChat) -> None:
        """With ``enforce_flood_limits``, refuse a send that would exceed Telegram's pace with 429."""
        if not self.enforce_flood_limits:
            return
        now = time.monotonic()
        pace = _PRIVATE_PACE if chat.type == "private" else _GROUP_PACE
        window = self._chat_windows.setdefault(chat.id, self._scaled(pace))
        wait = max(window.wait(now), self._global_window.wait(now))
        if wait > 0:
            self.flood_errors += 1
            raise _retry_after(max(1, math.ceil(wait)))
        window.add(now)
        self._global_window.add(now)

    # -- parameter resolution ----------------------------------------------------------------------

    def _chat(self, params: _Params) -> FakeChat:
        raw = params.text("chat_id")
        if not raw:
            raise _bad("chat_id is empty")
        chat = self.chats.get(int(raw)) if raw.lstrip("-").isdigit() else None
        if chat is None:
            raise _bad("chat not found")
        if chat.migrated_to is not None:
            raise _ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if chat.bot_kicked:
            raise _ApiError(403, _KICKED[chat.type])
        return chat

    def _topic(self, params: _Params) -> tuple[FakeChat, FakeTopic]:
        chat = self._chat(params)
        if not chat.is_forum:
            raise _bad("the chat is not a forum")
        topic = chat.topics.get(params.integer("message_thread_id") or 0)
        if topic is None:
            raise _bad("message thread not found")
        return chat, topic

    def _target(self, params: _Params) -> _Target:
        chat = self._chat(params)
        thread_id = params.integer("message_thread_id")
        if thread_id is not None and thread_id not in chat.topics:
            raise _bad("message thread not found")
        reply = params.json("reply_parameters")
        if isinstance(reply, dict):
            reply_to = reply.get("message_id")
            tolerant = bool(reply.get("allow_sending_without_reply"))
        else:
            reply_to = params.integer("reply_to_message_id")
            tolerant = params.flag("allow_sending_without_reply")
        if reply_to is not None and reply_to not in chat.messages:
            if not tolerant:
                raise _bad("message to be replied not found")
            reply_to = None
        return _Target(chat, thread_id, reply_to)

    def _admit(self, target: _Target, content: str) -> None:
        """Refuse a post the bot may not make there: its rights first (TDLib checks those), then a closed topic.

        "not enough rights to send … to the chat": TDLib's ``can_send_message_content`` (MessageContent.cpp).
        "TOPIC_CLOSED": the server's code, which bots see as ``Bad Request: TOPIC_CLOSED``
        (rteixeirax/qbittorrent_telegram_notification#12, Rongronggg9/RSS-to-Telegram-Bot#275).
        """
        chat = target.chat
        permission, what = _SEND_RIGHTS[content]
        if chat.bot_status == "restricted" and not chat.bot_permissions[permission]:
            raise _bad(f"not enough rights to send {what} to the chat")
        topic = chat.topics.get(target.thread_id) if target.thread_id is not None else None
        if topic is not None and topic.closed and not chat.bot_manages(topic):
            raise _bad("TOPIC_CLOSED")

    async def _media(self, kind: MediaKind, params: _Params) -> _Media:
        """The file of a send: an upload, a URL fetched now, or a file_id this fake issued."""
        upload_limit, url_limit = _SIZE_LIMITS[kind]
        source = params.input_file(kind)
        if source is None:
            raise _bad(f"there is no {kind} in the request")
        if isinstance(source, _Upload):
            if len(source.data) > upload_limit:
                raise _bad("file is too big")
            mime_type = mimetypes.guess_type(source.file_name)[0] or source.content_type
            return _Media(kind, source.data, source.file_name, mime_type, None)
        if source.startswith(("http://", "https://")):
            data, mime_type = await _fetch(source, url_limit)
            file_name = PurePosixPath(URL(source).path).name or kind
            return _Media(kind, data, file_name, mime_type, source)
        known = self._files.get(source)
        if known is None or known.kind != kind:
            raise _bad("wrong file identifier/HTTP URL specified")
        return known

    def _media_json(self, media: _Media) -> dict[str, Any]:
        """The ``photo``/``document``/``video`` field of the returned Message; issues a new file_id."""
        ids = self._issue_file(media)
        named = {"file_name": media.file_name, "mime_type": media.mime_type}
        match media.kind:
            case "photo":
                return {"photo": [ids | {"width": 800, "height": 600}]}
            case "document":
                return {"document": ids | named}
            case "video":
                return {"video": ids | named | {"width": 1280, "height": 720, "duration": 1}}
            case other:
                raise AssertionError(f"the bot sends no {other}")

    def _publish(
        self,
        method: str,
        params: _Params,
        target: _Target,
        content: dict[str, Any],
        *,
        text: str | None = None,
        plain: str | None = None,
        caption: str | None = None,
        plain_caption: str | None = None,
        media: _Media | None = None,
    ) -> dict[str, Any]:
        """Pace, store and record a bot message; return the ``Message`` Telegram would."""
        self._check_flood(target.chat)
        message = self._new_message(target.chat, self._bot_user, target.thread_id, target.reply_to, content)
        sent = SentMessage(
            method=method,
            chat_id=target.chat.id,
            message_id=message["message_id"],
            time=time.monotonic(),
            parse_mode=params.text("parse_mode"),
            text=text,
            plain=plain,
            caption=caption,
            plain_caption=plain_caption,
            media_kind=media.kind if media else None,
            media_bytes=media.data if media else None,
            file_name=media.file_name if media else None,
            media_url=media.url if media else None,
            thread_id=target.thread_id,
            reply_to=target.reply_to,
        )
        self.sent.append(sent)
        if self._on_post is not None:
            self._on_post(sent)
        return message

    # -- HTTP --------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if (download := _FILE_PATH.fullmatch(request.path)) is not None:
            return self._download(*download.groups())
        match = _API_PATH.fullmatch(request.path)
        if match is None:
            return _ApiError(404, "Not Found").response()
        token, method = match.groups()
        if token != self._token:
            return _ApiError(401, "Unauthorized").response()
        handler = self._methods.get(method.lower())
        if handler is None:
            return _ApiError(404, "Not Found").response()
        delay = _take(self._delays, method)
        try:
            params = await _read_params(request)
            self.requests.append(RecordedCall(method, params.values, time.monotonic()))
            fault = _take(self._faults, method)
            result = await handler(params) if fault is None or fault.taken else None
            if fault is not None:  # refused, or (taken) carried out and its answer lost on the way back
                if fault.reset:
                    return _reset(request)
                raise self._fault_error(fault)
            response = web.json_response({"ok": True, "result": result})
        except _ApiError as exc:
            response = exc.response()
        if delay is not None:
            await self._wait_until(lambda: False, delay.seconds)
        return response

    def _download(self, token: str, file_path: str) -> web.Response:
        """A file's bytes at ``/file/bot<token>/<file_path>``, for a path getFile gave out."""
        file_id = next((key for key, path in self._file_paths.items() if path == file_path), None)
        if token != self._token or file_id is None:
            return _ApiError(404, "Not Found").response()
        media = self._files[file_id]
        return web.Response(body=media.data, content_type=media.mime_type)

    # -- methods -----------------------------------------------------------------------------------

    async def _get_me(self, params: _Params) -> dict[str, Any]:
        return self._bot_user | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _get_file(self, params: _Params) -> dict[str, Any]:
        """A ``File`` with a ``file_path`` to download it by; over 20 MB, "file is too big"."""
        file_id = params.text("file_id") or ""
        media = self._files.get(file_id)
        if media is None:
            raise _bad("invalid file_id")
        if len(media.data) > MAX_DOWNLOAD_BYTES:
            raise _bad("file is too big")
        if file_id not in self._file_paths:
            extension = PurePosixPath(media.file_name).suffix or mimetypes.guess_extension(media.mime_type) or ""
            self._file_paths[file_id] = f"{_FILE_FOLDERS[media.kind]}/file_{len(self._file_paths)}{extension}"
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id.rsplit('-', 1)[1]}",
            "file_size": len(media.data),
            "file_path": self._file_paths[file_id],
        }

    async def _delete_webhook(self, params: _Params) -> bool:
        if params.flag("drop_pending_updates"):
            self._updates.clear()
        return True

    def _pending_updates(self) -> list[dict[str, Any]]:
        """Unconfirmed updates, after dropping those of types the bot no longer asks for."""
        if self._allowed_updates:
            self._updates = [u for u in self._updates if not self._allowed_updates.isdisjoint(u)]
        return self._updates

    async def _get_updates(self, params: _Params) -> list[dict[str, Any]]:
        """Long poll: confirm updates below ``offset``, then wait up to ``timeout`` s for one to arrive."""
        offset = params.integer("offset")
        if offset is not None:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        allowed = params.json("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(map(str, allowed))
        limit = min(max(params.integer("limit") or 100, 1), 100)
        await self._wait_until(lambda: bool(self._pending_updates()), max(params.integer("timeout") or 0, 0))
        return self._pending_updates()[:limit]

    @staticmethod
    def _commands_key(params: _Params) -> tuple[str, str]:
        scope = params.json("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), params.text("language_code") or ""

    async def _set_my_commands(self, params: _Params) -> bool:
        commands = params.json("commands")
        if not isinstance(commands, list):
            raise _bad("commands must be an array")
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND.fullmatch(str(command.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[self._commands_key(params)] = commands
        return True

    async def _get_my_commands(self, params: _Params) -> list[dict[str, Any]]:
        return self._commands.get(self._commands_key(params), [])

    async def _send_message(self, params: _Params) -> dict[str, Any]:
        # In Client::process_send_message_query's order: the text is read before the chat is looked up.
        text = params.text("text") or ""
        if not text:
            raise _bad("message text is empty")
        plain = _plain_text(text, params.text("parse_mode"))
        target = self._target(params)
        if not plain.strip():  # TDLib's fix_formatted_text: "Text must be non-empty"
            raise _bad("text must be non-empty")
        if len(plain.strip()) > MAX_TEXT_CHARS:
            raise _bad("message is too long")
        self._admit(target, "text")
        return self._publish("sendMessage", params, target, {"text": plain}, text=text, plain=plain)

    async def _send_media(self, method: str, kind: MediaKind, params: _Params) -> dict[str, Any]:
        caption = params.text("caption") or None
        plain_caption = _plain_text(caption, params.text("parse_mode")) if caption else None
        target = self._target(params)
        if plain_caption is not None and len(plain_caption.strip()) > MAX_CAPTION_CHARS:
            raise _bad("message caption is too long")
        self._admit(target, kind)
        media = await self._media(kind, params)
        shown = {"caption": plain_caption} if plain_caption and plain_caption.strip() else {}
        content = self._media_json(media) | shown
        return self._publish(method, params, target, content, caption=caption, plain_caption=plain_caption, media=media)

    async def _send_photo(self, params: _Params) -> dict[str, Any]:
        return await self._send_media("sendPhoto", "photo", params)

    async def _send_document(self, params: _Params) -> dict[str, Any]:
        return await self._send_media("sendDocument", "document", params)

    async def _send_video(self, params: _Params) -> dict[str, Any]:
        return await self._send_media("sendVideo", "video", params)

    @staticmethod
    def _check_pin_right(chat: FakeChat) -> None:
        """TDLib's ``DialogManager::can_pin_messages``; in a private chat the bot may always pin."""
        if chat.type != "private" and not chat.bot_may("can_pin_messages"):
            raise _bad("not enough rights to manage pinned messages in the chat")

    async def _edit_message_text(self, params: _Params) -> dict[str, Any]:
        """Edit a bot message's text; the edited text (plain) is kept in :attr:`edits` as well."""
        text = params.text("text") or ""
        if not text:
            raise _bad("message text is empty")
        plain = _plain_text(text, params.text("parse_mode"))
        chat = self._chat(params)
        message = chat.messages.get(params.integer("message_id") or 0)
        if message is None:
            raise _bad("message to edit not found")
        if message.get("from", {}).get("id") != self._bot_user["id"] or "text" not in message:
            raise _bad("message can't be edited")
        if message["text"] == plain:
            raise _bad(
                "message is not modified: specified new message content and reply markup are exactly the same "
                "as a current content and reply markup of the message"
            )
        self._check_flood(chat)  # edits count against the chat's pace like posts
        message |= {"text": plain, "edit_date": int(time.time())}
        self.edits.append((chat.id, message["message_id"], plain))
        return message

    async def _set_message_reaction(self, params: _Params) -> bool:
        """Bots may set one reaction from Telegram's fixed emoji list (ReactionTypeEmoji in the Bot API docs)."""
        chat = self._chat(params)
        message_id = params.integer("message_id")
        if message_id not in chat.messages:
            raise _bad("MESSAGE_ID_INVALID")
        reaction = params.json("reaction") or []
        if not isinstance(reaction, list) or len(reaction) > 1:
            raise _bad("REACTIONS_TOO_MANY")
        emoji = [r.get("emoji") for r in reaction if isinstance(r, dict) and r.get("type") == "emoji"]
        if len(emoji) != len(reaction) or any(e not in REACTION_EMOJI for e in emoji):
            raise _bad("REACTION_INVALID")
        self.reactions[(chat.id, message_id)] = [str(e) for e in emoji]
        return True

    async def _pin_chat_message(self, params: _Params) -> bool:
        chat = self._chat(params)
        message_id = params.integer("message_id")
        if message_id not in chat.messages:
            raise _bad("message to pin not found")
        self._check_pin_right(chat)
        if message_id in chat.pinned:
            chat.pinned.remove(message_id)
        chat.pinned.append(message_id)
        return True

    async def _unpin_chat_message(self, params: _Params) -> bool:
        chat = self._chat(params)
        message_id = params.integer("message_id") or (chat.pinned[-1] if chat.pinned else None)
        if message_id not in chat.pinned:
            raise _bad("message to unpin not found")
        self._check_pin_right(chat)
        chat.pinned.remove(message_id)
        return True

    async def _get_chat(self, params: _Params) -> dict[str, Any]:
        chat = self._chat(params)
        gifts = dict.fromkeys(
            ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription", "gifts_from_channels"),
            False,
        )
        return chat.as_json() | {"accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": gifts}

    async def _get_chat_member(self, params: _Params) -> dict[str, Any]:
        chat = self._chat(params)
        user_id = params.integer("user_id")
        if user_id == self._bot_user["id"]:
            return self._bot_member(chat)
        if user_id == OWNER_ID:
            return {"status": "creator", "user": _OWNER, "is_anonymous": False}
        return {"status": "member", "user": {"id": user_id, "is_bot": False, "first_name": "User"}}

    async def _get_chat_administrators(self, params: _Params) -> list[dict[str, Any]]:
        chat = self._chat(params)
        owner = {"status": "creator", "user": _OWNER, "is_anonymous": False}
        return [owner, self._bot_member(chat)] if chat.bot_status == "administrator" else [owner]

    async def _create_forum_topic(self, params: _Params) -> dict[str, Any]:
        chat = self._chat(params)
        if not chat.is_forum:
            raise _bad("the chat is not a forum")
        if not chat.bot_may("can_manage_topics"):  # ForumTopicManager::create_forum_topic
            raise _bad("not enough rights to create a topic")
        name = params.text("name") or ""
        if not 1 <= len(name) <= MAX_TOPIC_NAME_CHARS:
            raise _bad("TOPIC_NAME_INVALID")
        icon_color = params.integer("icon_color") or DEFAULT_TOPIC_COLOR
        thread_id = chat.last_message_id + 1  # the creation service message's id
        created = {"forum_topic_created": {"name": name, "icon_color": icon_color}}
        self._new_message(chat, self._bot_user, thread_id, None, created)
        chat.topics[thread_id] = FakeTopic(thread_id, name, icon_color)
        return {"message_thread_id": thread_id, "name": name, "icon_color": icon_color}

    async def _edit_forum_topic(self, params: _Params) -> bool:
        chat, topic = self._topic(params)
        if not chat.bot_manages(topic):  # ForumTopicManager::edit_forum_topic
            raise _bad("not enough rights to edit the topic")
        name = params.text("name")
        if name is not None:
            if not 1 <= len(name) <= MAX_TOPIC_NAME_CHARS:
                raise _bad("TOPIC_NAME_INVALID")
            topic.name = name
        return True

    def _set_topic_closed(self, params: _Params, closed: bool) -> bool:
        """closeForumTopic/reopenForumTopic (ForumTopicManager::toggle_forum_topic_is_closed, then the server)."""
        chat, topic = self._topic(params)
        if not chat.bot_manages(topic):
            raise _bad("not enough rights to close or open the topic")
        if topic.closed == closed:
            raise _bad("TOPIC_NOT_MODIFIED")
        topic.closed = closed
        event = "forum_topic_closed" if closed else "forum_topic_reopened"
        self._new_message(chat, self._bot_user, topic.thread_id, None, {event: {}})
        return True

    async def _close_forum_topic(self, params: _Params) -> bool:
        return self._set_topic_closed(params, closed=True)

    async def _reopen_forum_topic(self, params: _Params) -> bool:
        return self._set_topic_closed(params, closed=False)

    async def _delete_forum_topic(self, params: _Params) -> bool:
        chat, topic = self._topic(params)
        if not (topic.by_bot or (chat.bot_status == "administrator" and chat.bot_rights.get("can_delete_messages"))):
            raise _bad("not enough rights to delete the topic")  # ForumTopicManager::delete_forum_topic
        self.delete_topic(chat.id, topic.thread_id)
        return True
