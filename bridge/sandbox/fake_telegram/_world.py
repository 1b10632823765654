"""The fake Telegram's state and what every endpoint uses: chats, messages, updates, files, flood pace."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bridge.sandbox._server import LoopbackServer
from bridge.sandbox.fake_telegram._chats import FakeChat
from bridge.sandbox.fake_telegram._params import _ApiError, _bad, _Params, _retry_after
from bridge.sandbox.fake_telegram.constants import (
    _GLOBAL_PACE,
    _GROUP_PACE,
    _KICKED,
    _OWNER,
    _PRIVATE_PACE,
    ChatType,
    FileKind,
)


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
class _Media:
    kind: FileKind
    data: bytes
    file_name: str
    mime_type: str
    url: str | None


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


class _World(LoopbackServer):
    """The fake's state: chats and their messages, what the bot sent, the update queue, files, the pace."""

    def __init__(
        self,
        *,
        token: str,
        bot_username: str,
        bot_id: int,
        on_post: Callable[[SentMessage], None] | None,
        enforce_flood_limits: bool,
        flood_scale: int,
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
        self.edits: list[tuple[int, int, str]] = []
        """Every edit of a bot message: (chat id, message id, new plain text)."""
        self.reactions: dict[tuple[int, int], list[str]] = {}
        """The bot's reaction on each (chat id, message id) it reacted to."""
        self.flood_errors = 0
        """How many 429 answers were given (injected or enforced)."""
        self._updates: list[dict[str, Any]] = []
        self._last_update_id = 0
        self._allowed_updates: frozenset[str] = frozenset()
        self._files: dict[str, _Media] = {}
        self._file_paths: dict[str, str] = {}
        """file_id → the ``file_path`` getFile gave it (stable, as Telegram's)."""
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._chat_windows: dict[int, _SlidingWindow] = {}
        self._global_window = self._scaled(_GLOBAL_PACE)

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

    def _owner_service(self, chat: FakeChat, thread_id: int | None, content: dict[str, Any]) -> int:
        """Post a service message from the owner and queue it as an update (unless the bot is out)."""
        message = self._new_message(chat, _OWNER, thread_id, None, content)
        if not chat.bot_kicked:
            self._queue_update("message", message)
        return int(message["message_id"])

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
