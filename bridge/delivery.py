"""Pending messages → Telegram: one worker per chat, paced within Telegram's limits, never dropping."""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass, field

from aiogram.exceptions import TelegramBadRequest, TelegramEntityTooLarge, TelegramMigrateToChat

from bridge.errors import ChatUnavailable, MediaUnavailable
from bridge.render import MediaPart, Part, TextPart, media_as_link, render, text_block
from bridge.store import Pending, Store
from bridge.tasks import Supervisor, wait_event
from bridge.telegram.calls import TelegramCaller
from bridge.telegram.limits import TEXT_LIMIT
from bridge.telegram.portal import Portals, is_thread_gone
from bridge.telegram.sender import TelegramSender

log = logging.getLogger(__name__)

BATCH_SIZE = 50  # pending messages one worker reads at a time
COALESCE_BACKLOG = 3  # more waiting than this in a chat: join consecutive texts of an order into one post
MAX_TEXT_ATTEMPTS = 3  # a text Telegram refuses this often is marked failed (and counted in /status)
CHAT_PAUSE = 60.0  # seconds before retrying a chat Telegram refused us (removed, blocked, not found)
IDLE_RECHECK = 5.0


@dataclass
class _Post:
    """One Telegram post carrying one or more chat messages."""

    items: list[Pending]
    blocks: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(len(block) + 2 for block in self.blocks)


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

    def __init__(
        self, store: Store, sender: TelegramSender, call: TelegramCaller, portals: Portals, *, media_host: str
    ) -> None:
        self._store = store
        self._sender = sender
        self._call = call
        self._portals = portals
        self._media_host = media_host
        self._workers = Supervisor()
        self._stopping = False

    async def run(self) -> None:
        """Start a worker for every chat with work waiting, whenever more arrives, until :meth:`stop`."""
        while True:
            self._store.pending_added.clear()
            if not self._stopping:
                paused = await self._store.paused_chats()
                now = time.time()
                for chat_id in await self._store.pending_chats():
                    name = f"deliver:{chat_id}"
                    if paused.get(chat_id, (0.0, ""))[0] <= now and not self._workers.running(name):
                        serve = functools.partial(self._serve, chat_id, was_paused=chat_id in paused)
                        self._workers.spawn(name, serve, keep_alive=False)
            await wait_event(self._store.pending_added, IDLE_RECHECK)

    async def stop(self, timeout: float) -> None:
        """Stop taking messages, let posts in flight finish (up to ``timeout``), then cancel."""
        self._stopping = True
        await self._workers.wait(timeout)
        await self._workers.stop()

    async def _serve(self, chat_id: int, *, was_paused: bool) -> None:
        """Work through one chat: homes for new orders first, then messages, until none are left."""
        try:
            while not self._stopping:
                for watch in await self._store.homeless(chat_id):
                    await self._portals.ensure(watch)
                batch = await self._store.pending(chat_id, limit=BATCH_SIZE)
                if not batch:
                    break
                for post in plan_posts(batch, coalesce=len(batch) > COALESCE_BACKLOG):
                    if self._stopping or not await self._deliver(chat_id, post):
                        break
        except ChatUnavailable as exc:
            await self._pause(chat_id, str(exc))
            return
        except TelegramMigrateToChat as exc:
            await self._store.move_chat(chat_id, exc.migrate_to_chat_id)
            log.warning("chat %s became supergroup %s; following it", chat_id, exc.migrate_to_chat_id)
            return
        if was_paused and await self._store.resume_chat(chat_id):
            log.info("chat %s: Telegram takes posts again", chat_id)

    async def _pause(self, chat_id: int, reason: str) -> None:
        already = (await self._store.paused_chats()).get(chat_id)
        await self._store.pause_chat(chat_id, time.time() + CHAT_PAUSE, reason)
        if already is None or already[1] != reason:
            log.error("chat %s: %s; its messages stay pending, retrying every %.0f s", chat_id, reason, CHAT_PAUSE)

    async def _deliver(self, chat_id: int, post: _Post) -> bool:
        """Send one post and mark what it carries; False when the chat needs re-planning first."""
        first = post.items[0]
        watch = first.watch
        parts: list[Part] = (
            [TextPart("\n\n".join(post.blocks))]
            if len(post.items) > 1
            else render(first.message, watch.info, self._media_host)
        )
        reply_to = None if watch.thread_id else watch.card_message_id
        seqs = [item.seq for item in post.items]
        may_refresh = len(post.items) == 1 and not first.link_refreshed
        try:
            ids = [await self._post(chat_id, watch.thread_id, part, reply_to, may_refresh) for part in parts]
        except MediaUnavailable:
            log.info(
                "order %s: media link of message %s expired; asking Bybit for a fresh one",
                watch.order_id,
                first.message.id,
            )
            await self._store.request_refresh(first.seq)
            return False
        except TelegramBadRequest as exc:
            if is_thread_gone(exc):
                log.warning("order %s: its topic was deleted; making a new one", watch.order_id)
                await self._store.reset_home(watch.order_id)
                return False
            failed = first.attempts + 1 >= MAX_TEXT_ATTEMPTS
            for seq in seqs:
                await self._store.mark_attempt(seq, exc.message, failed=failed)
            log.error("order %s: Telegram refused message %s: %s", watch.order_id, first.message.id, exc.message)
            return True
        await self._store.mark_delivered(seqs, chat_id, ids)
        return True

    async def _post(
        self, chat_id: int, thread_id: int | None, part: Part, reply_to: int | None, may_refresh: bool
    ) -> int:
        """Send one part; media Telegram cannot take goes out as a working link with the reason.

        An expired media link is raised (MediaUnavailable) when ``may_refresh``, to be fetched anew.
        """
        try:
            return await self._call(chat_id, lambda: self._sender.send(chat_id, thread_id, part, reply_to))
        except (MediaUnavailable, TelegramEntityTooLarge, TelegramBadRequest) as exc:
            if not isinstance(part, MediaPart) or (isinstance(exc, TelegramBadRequest) and is_thread_gone(exc)):
                raise
            if isinstance(exc, MediaUnavailable) and exc.expired and may_refresh:
                raise
            reason = exc.reason if isinstance(exc, MediaUnavailable) else "Telegram refused the file"
            self._call.stats.errors["media_as_link"] += 1
            log.warning("chat %s: sending %s as a link: %s", chat_id, part.file_name, reason)
            link = media_as_link(part, reason)
            return await self._call(chat_id, lambda: self._sender.send(chat_id, thread_id, link, reply_to))
