"""What the store hands out: delivery states, watches, pending messages, queue counts; and the wake-ups."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Concatenate, ParamSpec, TypeVar

import aiosqlite

from bridge.bybit import ChatMessage, ContentType, OrderInfo
from bridge.logs import mask

ERROR_CHARS = 500  # an error or reason kept with a message, reply or chat is cut to this
PARSED_INFOS = 2048  # order details kept parsed: watches are read often (the poller, status checks), change rarely
ALERT_ID_PREFIX = "status-"
"""Ids of the messages the bridge writes itself (status alerts) start so; they are not in Bybit's chat."""


class State(StrEnum):
    """Delivery state of a seen message."""

    PENDING = "pending"  # recorded, not yet confirmed by Telegram
    DELIVERED = "delivered"  # Telegram returned its message id
    SKIPPED = "skipped"  # seen but not for forwarding (history before the backfill window, order cards)
    FAILED = "failed"  # refused for good by an older bridge; /retry sends it again like a dead letter
    REFRESH = "refresh"  # its media link expired before delivery; waits (and holds its order) for a fresh one
    ECHO = "echo"  # the bridge's own reply seen coming back from Bybit; not forwarded again
    DEAD = "dead"  # Telegram refused it for good; counted in /status, sent again by /retry


@dataclass(frozen=True)
class Watch:
    """A watched order: where its messages go, and what Bybit said about it."""

    order_id: str
    chat_id: int
    thread_id: int | None
    active: bool
    backfilled: bool
    info: OrderInfo
    card_message_id: int | None = None
    home_ready: bool = False
    finished_at: float | None = None
    made_topic: int | None = None  # the forum topic made for the order, before its home was ready
    card_changes: int = 0  # order details kept since its card was last edited (0: the card is current)


@dataclass(frozen=True)
class Queue:
    """Messages by where they are on the way to Telegram."""

    pending: int  # waiting for their turn
    held: int  # waiting for something to heal (a fresh media link, the media host); resume by themselves
    dead: int  # refused by Telegram for good; /retry sends them again
    delivered: int
    seen: int  # every message recorded from Bybit, in any state
    unwatched: int  # of those pending or held: of orders no longer watched (delivered all the same)


@dataclass(frozen=True)
class Pruned:
    """What one retention pass forgot."""

    orders: int
    messages: int
    posts: int
    replies: int


@dataclass(frozen=True)
class Retirement:
    """What one retirement pass did: the orders retired, and the finished ones to read once more first."""

    retired: list[str]
    unread: list[str]


@dataclass(frozen=True)
class Pending:
    """A message waiting for delivery, with the watch it belongs to."""

    seq: int
    message: ChatMessage
    watch: Watch
    attempts: int
    link_refreshed: bool = False
    parts_done: int = 0


@dataclass(frozen=True)
class FileToFollow:
    """A file whose place in its order a post keeps (the placeholder) until it can be fetched and posted."""

    seq: int
    message: ChatMessage
    watch: Watch
    chat_id: int
    placeholder: int  # the post keeping its place, as Telegram numbered it
    since: float  # when it first could not be fetched
    attempts: int
    link_refreshed: bool
    last_error: str


class OutState(StrEnum):
    """Where a teammate's reply is on its way to Bybit."""

    QUEUED = "queued"  # written, no attempt yet
    SENDING = "sending"  # an attempt started: sent or not is uncertain until checked
    SENT = "sent"  # Bybit took it
    REFUSED = "refused"  # Bybit refused it for good (reason kept)
    DISABLED = "disabled"  # never to be sent: replies are off or the sender may not send


@dataclass(frozen=True)
class NewReply:
    """A teammate's message to send to Bybit: where it was written, by whom, about which order."""

    chat_id: int
    tg_message_id: int
    order_id: str
    user_id: int | None
    user_name: str
    text: str
    file: Attachment | None = None


@dataclass(frozen=True)
class Attachment:
    """A file a teammate sent to go to Bybit: its bytes, name, MIME type and Bybit content type."""

    data: bytes
    file_name: str
    mime_type: str
    content_type: ContentType


@dataclass(frozen=True, kw_only=True)
class Outgoing(NewReply):
    """A teammate's reply in the outbox, with where it is on its way to Bybit."""

    id: int
    part: int = 0
    """Which of the reply's Bybit messages this is: 0 the text or the file, 1 a file's caption."""
    msg_uuid: str
    state: OutState
    attempts: int
    last_error: str
    created_at: float
    bybit_msg_id: str | None
    file_url: str | None = None
    """Where Bybit keeps the file once uploaded (uploaded once, whatever the retries)."""

    @property
    def payload(self) -> str:
        """What goes into Bybit's chat: the text, or the uploaded file's path."""
        return (self.file_url or "") if self.file else self.text

    @property
    def key(self) -> str:
        """What identifies it in Bybit's chat list: the text, or the file's path without its signed query."""
        return self.payload.split("?", 1)[0] if self.file else self.text


@dataclass(frozen=True)
class Wakeups:
    """Events that wake a loop when the store gets work for it, named after who waits."""

    delivery: asyncio.Event = field(default_factory=asyncio.Event)
    """Messages await delivery (or an order awaits its home, or a chat may post again)."""
    poller: asyncio.Event = field(default_factory=asyncio.Event)
    """Watches changed, or a media link wants refreshing."""
    outbox: asyncio.Event = field(default_factory=asyncio.Event)
    """A teammate's reply waits to go to Bybit."""
    feedback: asyncio.Event = field(default_factory=asyncio.Event)
    """A teammate is owed word of what became of a reply."""
    details: asyncio.Event = field(default_factory=asyncio.Event)
    """A watch made from the open-order list may have its order detail read (it was made, or its history read)."""


def error_text(error: str, limit: int = ERROR_CHARS) -> str:
    """An error or reason as stored: credentials masked (``bridge.logs.mask``), at most ``limit`` characters."""
    return mask(error)[:limit]


class Table:
    """One concern of the store, sharing the connection and the wake-ups (and one writer at a time)."""

    def __init__(self, db: aiosqlite.Connection, wakeups: Wakeups) -> None:
        self._db = db
        self._wakeups = wakeups
        self._writing = _WRITE_LOCKS.setdefault(db, asyncio.Lock())


_WRITE_LOCKS: weakref.WeakKeyDictionary[aiosqlite.Connection, asyncio.Lock] = weakref.WeakKeyDictionary()
"""One lock per connection: the tables share it, so no writer's statements join another's transaction."""

_T = TypeVar("_T", bound=Table)
_P = ParamSpec("_P")
_R = TypeVar("_R")


def writes(method: Callable[Concatenate[_T, _P], Awaitable[_R]]) -> Callable[Concatenate[_T, _P], Awaitable[_R]]:
    """Make a Table method that writes one transaction: alone on the connection, and all or nothing.

    SQLite keeps a failed write's earlier statements in the open transaction, so the next commit (of any
    table) would write half of it; a method that fails (disk full, database locked, I/O error) is
    rolled back instead. The method itself commits; writers must not call one another.
    """

    @functools.wraps(method)
    async def transaction(table: _T, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        async with table._writing:
            try:
                return await method(table, *args, **kwargs)
            except BaseException:
                with contextlib.suppress(sqlite3.Error):  # the method's own failure is the one to report
                    await table._db.rollback()
                raise

    return transaction


@functools.lru_cache(maxsize=PARSED_INFOS)
def stored_info(text: str) -> OrderInfo:
    """A stored order detail, parsed once per text (the model is frozen, so it is safe to share)."""
    return OrderInfo.model_validate_json(text)


async def insert_message(db: aiosqlite.Connection, order_id: str, message: ChatMessage, state: State) -> bool:
    """Add a seen message (uncommitted); False if it was already held."""
    cursor = await db.execute(
        """INSERT OR IGNORE INTO messages (msg_id, order_id, created_ms, payload, state, seen_at)
           VALUES (?, ?, ?, ?, ?, ?)""",
        (message.id, order_id, message.created_ms, message.model_dump_json(by_alias=True), state, time.time()),
    )
    return cursor.rowcount > 0


def watch_from_row(row: aiosqlite.Row) -> Watch:
    """The watch a row of ``orders`` holds."""
    return Watch(
        order_id=row["order_id"],
        chat_id=row["chat_id"],
        thread_id=row["thread_id"],
        active=bool(row["active"]),
        backfilled=bool(row["backfilled"]),
        info=stored_info(row["info"]),
        card_message_id=row["card_message_id"],
        home_ready=bool(row["home_ready"]),
        finished_at=row["finished_at"],
        made_topic=row["made_topic"],
        card_changes=row["card_stale"],
    )
