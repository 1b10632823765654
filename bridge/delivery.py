"""Pending messages → Telegram: one worker per chat, paced within Telegram's limits, never dropping."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)

from bridge.errors import MediaUnavailable
from bridge.ratelimit import SlidingWindow
from bridge.render import MediaPart, Part, TextPart, media_as_link, render, text_block
from bridge.store import Pending, Store
from bridge.tasks import Supervisor, wait_event
from bridge.telegram.limits import TEXT_LIMIT
from bridge.telegram.sender import TelegramSender

log = logging.getLogger(__name__)

BATCH_SIZE = 50  # pending messages one worker reads at a time
COALESCE_BACKLOG = 3  # more waiting than this in a chat: join consecutive texts of an order into one post
MAX_TEXT_ATTEMPTS = 3  # a text Telegram refuses this often is marked failed (and counted in /status)
CHAT_PAUSE = 60.0  # seconds before retrying a chat Telegram refused us (removed, blocked, not found)
NETWORK_RETRY_CAP = 60.0
IDLE_RECHECK = 5.0
CHAT_NOT_FOUND = "chat not found"


class Pacer:
    """Telegram's sending budget: per chat (groups: per minute too) and for the whole bot."""

    def __init__(self, *, group_per_minute: float, chat_per_second: float, global_per_second: float) -> None:
        self._group_per_minute = group_per_minute
        self._chat_per_second = chat_per_second
        self._global = SlidingWindow.per_second(global_per_second)
        self._chats: dict[int, list[SlidingWindow]] = {}

    def _windows(self, chat_id: int) -> list[SlidingWindow]:
        windows = self._chats.get(chat_id)
        if windows is None:
            windows = [SlidingWindow.per_second(self._chat_per_second)]
            if chat_id < 0:  # groups, supergroups and channels have negative ids
                windows.append(SlidingWindow(max(1, int(self._group_per_minute)), 60.0))
            self._chats[chat_id] = windows
        return windows

    async def acquire(self, chat_id: int) -> None:
        """Wait until one more post to ``chat_id`` fits every budget."""
        for window in self._windows(chat_id):
            await window.acquire()
        await self._global.acquire()

    def push_back(self, chat_id: int, seconds: float) -> None:
        """Telegram said ``retry_after``: send nothing more to that chat for ``seconds``."""
        for window in self._windows(chat_id):
            window.push_back(seconds)


@dataclass
class DeliveryStats:
    """What ``/status`` reports about delivery."""

    last_success: float | None = None
    errors: Counter[str] = field(default_factory=Counter)


@dataclass
class _Post:
    """One Telegram post carrying one or more chat messages."""

    items: list[Pending]
    blocks: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(len(block) + 2 for block in self.blocks)


class ChatUnavailable(Exception):
    """Telegram will not take posts for this chat now; its messages stay pending."""


def plan_posts(batch: list[Pending], *, coalesce: bool) -> list[_Post]:
    """Group a chat's pending messages into posts, keeping their order.

    With ``coalesce``, consecutive texts of one order share a post while it fits Telegram's
    limit; media and oversized texts always get posts of their own.
    """
    posts: list[_Post] = []
    for item in batch:
        block = text_block(item.message, item.watch.info) if coalesce else None
        last = posts[-1] if posts else None
        if (
            block is not None
            and last is not None
            and last.blocks
            and last.items[-1].watch.order_id == item.watch.order_id
            and last.size + len(block) <= TEXT_LIMIT
        ):
            last.items.append(item)
            last.blocks.append(block)
        else:
            posts.append(_Post([item], [block] if block is not None else []))
    return posts


class Delivery:
    """Sends what the store holds as pending and marks it delivered once Telegram confirms."""

    def __init__(self, store: Store, sender: TelegramSender, pacer: Pacer, *, media_host: str) -> None:
        self._store = store
        self._sender = sender
        self._pacer = pacer
        self._media_host = media_host
        self._workers = Supervisor()
        self._paused_until: dict[int, float] = {}
        self._stopping = False
        self.stats = DeliveryStats()

    async def run(self) -> None:
        """Start a worker for every chat with pending messages, whenever more arrive, until :meth:`stop`."""
        while True:
            self._store.pending_added.clear()
            now = time.monotonic()
            for chat_id in [] if self._stopping else await self._store.pending_chats():
                name = f"deliver:{chat_id}"
                if self._paused_until.get(chat_id, 0) <= now and not self._workers.running(name):
                    self._workers.spawn(name, functools.partial(self._serve, chat_id), keep_alive=False)
            await wait_event(self._store.pending_added, IDLE_RECHECK)

    async def stop(self, timeout: float) -> None:
        """Stop taking messages, let posts in flight finish (up to ``timeout``), then cancel."""
        self._stopping = True
        await self._workers.wait(timeout)
        await self._workers.stop()

    async def _serve(self, chat_id: int) -> None:
        while not self._stopping:
            batch = await self._store.pending(chat_id, limit=BATCH_SIZE)
            if not batch:
                return
            for post in plan_posts(batch, coalesce=len(batch) > COALESCE_BACKLOG):
                if self._stopping:
                    return
                try:
                    await self._deliver(chat_id, post)
                except ChatUnavailable as exc:
                    self._paused_until[chat_id] = time.monotonic() + CHAT_PAUSE
                    log.error("chat %s: %s; messages stay pending, retrying in %.0f s", chat_id, exc, CHAT_PAUSE)
                    return
                except TelegramMigrateToChat as exc:
                    await self._store.move_chat(chat_id, exc.migrate_to_chat_id)
                    log.warning("chat %s became supergroup %s; following it", chat_id, exc.migrate_to_chat_id)
                    self._store.pending_added.set()
                    return

    async def _deliver(self, chat_id: int, post: _Post) -> None:
        first = post.items[0]
        parts: list[Part] = (
            [TextPart("\n\n".join(post.blocks))]
            if len(post.items) > 1
            else render(first.message, first.watch.info, self._media_host)
        )
        seqs = [item.seq for item in post.items]
        try:
            ids = [await self._post(chat_id, first.watch.thread_id, part) for part in parts]
        except TelegramBadRequest as exc:
            self.stats.errors["telegram_bad_request"] += 1
            failed = first.attempts + 1 >= MAX_TEXT_ATTEMPTS
            for seq in seqs:
                await self._store.mark_attempt(seq, exc.message, failed=failed)
            log.error("order %s: Telegram refused message %s: %s", first.watch.order_id, first.message.id, exc)
            return
        await self._store.mark_delivered(seqs, chat_id, ids)
        self.stats.last_success = time.time()

    async def _post(self, chat_id: int, thread_id: int | None, part: Part) -> int:
        """Send one part, waiting out flood control and network trouble; media falls back to a link."""
        failures = 0
        while True:
            await self._pacer.acquire(chat_id)
            try:
                return await self._sender.send(chat_id, thread_id, part)
            except TelegramRetryAfter as exc:
                self.stats.errors["telegram_retry_after"] += 1
                log.warning("chat %s: Telegram flood control, waiting %s s", chat_id, exc.retry_after)
                self._pacer.push_back(chat_id, exc.retry_after)
            except (MediaUnavailable, TelegramEntityTooLarge, TelegramBadRequest) as exc:
                if isinstance(exc, TelegramBadRequest) and CHAT_NOT_FOUND in exc.message.lower():
                    raise ChatUnavailable(exc.message) from None
                if not isinstance(part, MediaPart):
                    raise
                reason = exc.reason if isinstance(exc, MediaUnavailable) else "Telegram refused the file"
                self.stats.errors["media_fallback"] += 1
                log.warning("chat %s: sending %s as a link: %s", chat_id, part.file_name, reason)
                part = media_as_link(part, reason)
            except (TelegramForbiddenError, TelegramUnauthorizedError) as exc:
                self.stats.errors["telegram_forbidden"] += 1
                raise ChatUnavailable(exc.message) from None
            except (TelegramNetworkError, TelegramServerError) as exc:
                failures += 1
                self.stats.errors["telegram_network"] += 1
                delay = min(NETWORK_RETRY_CAP, 2.0**failures)
                log.warning("chat %s: Telegram unreachable (%s), retrying in %.0f s", chat_id, exc, delay)
                await asyncio.sleep(delay)
