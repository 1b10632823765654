"""A fake Telegram Bot API server, faithful enough for the real aiogram 3 client.

Point a bot at it with ``Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.url)))``.
It keeps chats, forum topics and per-chat message ids, checks what Telegram checks (HTML, lengths, sizes,
threads, replies), fetches media URLs like Telegram does, queues updates for long polling, and can answer
with the errors aiogram maps to exceptions (429, 400 + ``migrate_to_chat_id``, 403, …).
"""

from __future__ import annotations

import asyncio
import html
import json
import math
import mimetypes
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Final, Literal

import aiohttp
from aiohttp import web
from yarl import URL

from bridge.sandbox._server import LoopbackServer

ChatType = Literal["private", "group", "supergroup"]
MediaKind = Literal["photo", "document", "video"]

MAX_TEXT_CHARS: Final = 4096
MAX_CAPTION_CHARS: Final = 1024
MAX_TOPIC_NAME_CHARS: Final = 128
URL_FETCH_TIMEOUT: Final = 5.0
DEFAULT_TOPIC_COLOR: Final = 7322096
_MB = 1024 * 1024
_SIZE_LIMITS: Final[dict[MediaKind, tuple[int, int]]] = {  # (by upload, by URL)
    "photo": (10 * _MB, 5 * _MB),
    "document": (50 * _MB, 20 * _MB),
    "video": (50 * _MB, 20 * _MB),
}
_PRIVATE_PACE = (1, 1.0)  # messages per seconds, sliding window
_GROUP_PACE = (20, 60.0)
_GLOBAL_PACE = (30, 1.0)
_SEND_METHODS = frozenset({"sendmessage", "sendphoto", "senddocument", "sendvideo"})
_PARSE_MODES = frozenset({"html", "markdown", "markdownv2"})
_API_PATH = re.compile(r"/bot([^/]+)/([A-Za-z]+)")
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
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
_KICKED: Final[dict[ChatType, str]] = {
    "private": "Forbidden: bot was blocked by the user",
    "group": "Forbidden: bot was kicked from the group chat",
    "supergroup": "Forbidden: bot was kicked from the supergroup chat",
}

# Telegram's HTML subset: the tags it knows, its entities, and everything else as plain runs.
_HTML_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code", "pre"}
    | {"blockquote", "tg-emoji"}
)
_HTML_TAG = re.compile(
    r"""<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+[A-Za-z-]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?)*)\s*>"""
)
_HTML_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]+|#x[0-9A-Fa-f]+);")
_HTML_TEXT = re.compile(r"[^<&]+")


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
    media_kind: MediaKind | None = None
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
    """A forum topic; ``thread_id`` is the id of its creation service message, as in Telegram."""

    thread_id: int
    name: str
    icon_color: int
    closed: bool = False


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
    bot_kicked: bool = False
    messages: dict[int, dict[str, Any]] = field(default_factory=dict, repr=False)
    last_message_id: int = 0

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
    kind: MediaKind
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
class _Fault:
    method: str | None
    remaining: int
    status: int
    description: str
    retry_after: int | None = None


class _ApiError(Exception):
    """A refusal in Telegram's ``{"ok": false, …}`` form."""

    def __init__(self, status: int, description: str, parameters: dict[str, int] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def response(self) -> web.Response:
        payload: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            payload["parameters"] = self.parameters
        return web.json_response(payload, status=self.status)


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


def _html_to_plain(raw: str) -> str:
    """Check Telegram-style HTML and return its text with tags stripped and entities decoded.

    Raises ``ValueError`` (Telegram's reason) for an unknown or unbalanced tag, or a ``<``/``&`` that starts
    neither a tag nor an entity.
    """
    parts: list[str] = []
    open_tags: list[str] = []
    pos = 0
    while pos < len(raw):
        if run := _HTML_TEXT.match(raw, pos):
            parts.append(run.group())
            pos = run.end()
            continue
        offset = len(raw[:pos].encode())
        if raw[pos] == "&":
            entity = _HTML_ENTITY.match(raw, pos)
            if entity is None:
                raise ValueError(f"Character '&' is reserved and must be escaped at byte offset {offset}")
            parts.append(html.unescape(entity.group()))
            pos = entity.end()
            continue
        tag = _HTML_TAG.match(raw, pos)
        name = tag.group(2).lower() if tag else ""
        if tag is None or name not in _HTML_TAGS:
            raise ValueError(f'Unsupported start tag "{name}" at byte offset {offset}')
        if not tag.group(1):
            open_tags.append(name)
        elif not open_tags:
            raise ValueError(f"Unexpected end tag at byte offset {offset}")
        elif (expected := open_tags.pop()) != name:
            raise ValueError(f'Unmatched end tag at byte offset {offset}, expected "</{expected}>", found "</{name}>"')
        pos = tag.end()
    if open_tags:
        raise ValueError(f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"')
    return "".join(parts)


def _plain_text(raw: str, parse_mode: str | None) -> str:
    """What Telegram would display: HTML is checked and stripped; other parse modes are taken as is."""
    if parse_mode is None:
        return raw
    if parse_mode.lower() not in _PARSE_MODES:
        raise _bad("unsupported parse_mode")
    if parse_mode.lower() != "html":
        return raw
    try:
        return _html_to_plain(raw)
    except ValueError as exc:
        raise _bad(f"can't parse entities: {exc}") from None


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
        self._enforce_flood_limits = enforce_flood_limits
        self._flood_scale = flood_scale
        """Multiplies every enforced limit's count, so tests can prove pacing at a faster pace."""
        self.chats: dict[int, FakeChat] = {}
        """Every chat by id, with its topics, pins and messages."""
        self.sent: list[SentMessage] = []
        """Every successful send, in order."""
        self.requests: list[RecordedCall] = []
        """Every authorised call to a known method, in order."""
        self.flood_errors = 0
        """How many 429 answers were given (injected or enforced)."""
        self._updates: list[dict[str, Any]] = []
        self._last_update_id = 0
        self._allowed_updates: frozenset[str] = frozenset()
        self._faults: list[_Fault] = []
        self._files: dict[str, _Media] = {}
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._chat_windows: dict[int, _SlidingWindow] = {}
        self._global_window = self._scaled(_GLOBAL_PACE)
        self._methods: dict[str, Callable[[_Params], Awaitable[Any]]] = {
            "getme": self._get_me,
            "deletewebhook": self._delete_webhook,
            "getupdates": self._get_updates,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "senddocument": self._send_document,
            "sendvideo": self._send_video,
            "pinchatmessage": self._pin_chat_message,
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
    ) -> int:
        """Queue a ``message`` update from a user and return its ``message_id``.

        A leading ``/command`` gets a ``bot_command`` entity; in a topic the message is a reply to the
        topic's creation message unless ``reply_to_message_id`` says otherwise (as in Telegram).
        A bot that was kicked from the chat gets no update.
        """
        chat = self.chats[chat_id]
        if thread_id is not None and thread_id not in chat.topics:
            raise ValueError(f"no topic {thread_id} in chat {chat_id}")
        if reply_to_message_id is not None and reply_to_message_id not in chat.messages:
            raise ValueError(f"no message {reply_to_message_id} in chat {chat_id}")
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": len(command.encode("utf-16-le")) // 2}
            ]
        sender = {"id": user_id, "is_bot": False, "first_name": first_name}
        message = self._new_message(chat, sender, thread_id, reply_to_message_id, content)
        if not chat.bot_kicked:
            self._queue_update("message", message)
        return int(message["message_id"])

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

    def inject_error(self, status: int, description: str, times: int = 1, method: str | None = None) -> None:
        """Answer the next ``times`` send calls (or calls to ``method``) with ``status`` and ``description``."""
        self._faults.append(_Fault(method, times, status, description))

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
        self._set_bot_kicked(self.chats[chat_id], kicked=True)

    def restore_bot(self, chat_id: int) -> None:
        """Add the bot back as an administrator and queue a ``my_chat_member`` update."""
        self._set_bot_kicked(self.chats[chat_id], kicked=False)

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

    def _queue_update(self, kind: str, payload: dict[str, Any]) -> None:
        self._last_update_id += 1
        self._updates.append({"update_id": self._last_update_id, kind: payload})
        self._notify()

    def _bot_member(self, kicked: bool) -> dict[str, Any]:
        if kicked:
            return {"status": "kicked", "user": self._bot_user, "until_date": 0}
        return {"status": "administrator", "user": self._bot_user, **_ADMIN_RIGHTS}

    def _set_bot_kicked(self, chat: FakeChat, *, kicked: bool) -> None:
        chat.bot_kicked = kicked
        change = {
            "chat": chat.as_json(),
            "from": _OWNER,
            "date": int(time.time()),
            "old_chat_member": self._bot_member(not kicked),
            "new_chat_member": self._bot_member(kicked),
        }
        self._queue_update("my_chat_member", change)

    def _take_fault(self, method: str) -> _ApiError | None:
        for fault in self._faults:
            matches = (
                method.lower() in _SEND_METHODS if fault.method is None else fault.method.lower() == method.lower()
            )
            if not matches:
                continue
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.remove(fault)
            if fault.retry_after is not None:
                self.flood_errors += 1
                return _retry_after(fault.retry_after)
            return _ApiError(fault.status, fault.description)
        return None

    def _scaled(self, pace: tuple[int, float]) -> _SlidingWindow:
        return _SlidingWindow(pace[0] * self._flood_scale, pace[1])

    def _check_flood(self, chat: FakeChat) -> None:
        """With ``enforce_flood_limits``, refuse a send that would exceed Telegram's pace with 429."""
        if not self._enforce_flood_limits:
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

    def _caption(self, params: _Params) -> tuple[str | None, str | None]:
        caption = params.text("caption")
        if not caption:
            return None, None
        plain = _plain_text(caption, params.text("parse_mode"))
        if len(plain) > MAX_CAPTION_CHARS:
            raise _bad("message caption is too long")
        return caption, plain

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
        number = len(self._files) + 1
        file_id = f"SANDBOX-{media.kind}-{number}"
        self._files[file_id] = media
        ids = {"file_id": file_id, "file_unique_id": f"u{number}", "file_size": len(media.data)}
        named = {"file_name": media.file_name, "mime_type": media.mime_type}
        match media.kind:
            case "photo":
                return {"photo": [ids | {"width": 800, "height": 600}]}
            case "document":
                return {"document": ids | named}
            case "video":
                return {"video": ids | named | {"width": 1280, "height": 720, "duration": 1}}

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
        match = _API_PATH.fullmatch(request.path)
        if match is None:
            return _ApiError(404, "Not Found").response()
        token, method = match.groups()
        if token != self._token:
            return _ApiError(401, "Unauthorized").response()
        handler = self._methods.get(method.lower())
        if handler is None:
            return _ApiError(404, "Not Found").response()
        try:
            params = await _read_params(request)
            self.requests.append(RecordedCall(method, params.values, time.monotonic()))
            if (fault := self._take_fault(method)) is not None:
                raise fault
            result = await handler(params)
        except _ApiError as exc:
            return exc.response()
        return web.json_response({"ok": True, "result": result})

    # -- methods -----------------------------------------------------------------------------------

    async def _get_me(self, params: _Params) -> dict[str, Any]:
        return self._bot_user | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
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
        target = self._target(params)
        text = params.text("text") or ""
        plain = _plain_text(text, params.text("parse_mode"))
        if not plain.strip():
            raise _bad("message text is empty")
        if len(plain) > MAX_TEXT_CHARS:
            raise _bad("message is too long")
        return self._publish("sendMessage", params, target, {"text": plain}, text=text, plain=plain)

    async def _send_media(self, method: str, kind: MediaKind, params: _Params) -> dict[str, Any]:
        target = self._target(params)
        caption, plain_caption = self._caption(params)
        media = await self._media(kind, params)
        content = self._media_json(media) | ({"caption": plain_caption} if plain_caption else {})
        return self._publish(method, params, target, content, caption=caption, plain_caption=plain_caption, media=media)

    async def _send_photo(self, params: _Params) -> dict[str, Any]:
        return await self._send_media("sendPhoto", "photo", params)

    async def _send_document(self, params: _Params) -> dict[str, Any]:
        return await self._send_media("sendDocument", "document", params)

    async def _send_video(self, params: _Params) -> dict[str, Any]:
        return await self._send_media("sendVideo", "video", params)

    async def _pin_chat_message(self, params: _Params) -> bool:
        chat = self._chat(params)
        message_id = params.integer("message_id")
        if message_id not in chat.messages:
            raise _bad("message to pin not found")
        if message_id in chat.pinned:
            chat.pinned.remove(message_id)
        chat.pinned.append(message_id)
        return True

    async def _unpin_chat_message(self, params: _Params) -> bool:
        chat = self._chat(params)
        message_id = params.integer("message_id") or (chat.pinned[-1] if chat.pinned else None)
        if message_id not in chat.pinned:
            raise _bad("message to unpin not found")
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
        self._chat(params)
        user_id = params.integer("user_id")
        if user_id == self._bot_user["id"]:
            return self._bot_member(kicked=False)
        if user_id == OWNER_ID:
            return {"status": "creator", "user": _OWNER, "is_anonymous": False}
        return {"status": "member", "user": {"id": user_id, "is_bot": False, "first_name": "User"}}

    async def _get_chat_administrators(self, params: _Params) -> list[dict[str, Any]]:
        self._chat(params)
        return [{"status": "creator", "user": _OWNER, "is_anonymous": False}, self._bot_member(kicked=False)]

    async def _create_forum_topic(self, params: _Params) -> dict[str, Any]:
        chat = self._chat(params)
        if not chat.is_forum:
            raise _bad("the chat is not a forum")
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
        _, topic = self._topic(params)
        name = params.text("name")
        if name is not None:
            if not 1 <= len(name) <= MAX_TOPIC_NAME_CHARS:
                raise _bad("TOPIC_NAME_INVALID")
            topic.name = name
        return True

    async def _close_forum_topic(self, params: _Params) -> bool:
        self._topic(params)[1].closed = True
        return True

    async def _reopen_forum_topic(self, params: _Params) -> bool:
        self._topic(params)[1].closed = False
        return True

    async def _delete_forum_topic(self, params: _Params) -> bool:
        chat, topic = self._topic(params)
        self.delete_topic(chat.id, topic.thread_id)
        return True
