"""Pending messages → Telegram: one worker per chat, paced within Telegram's limits, never dropping.

Every way a post can fail ends in one of three places: delivered, *held* (the chat is paused, or the
message waits for Telegram to confirm it; all show in /status and resume by themselves) or
*dead-lettered* (Telegram refused it for good, or it failed in a way nobody foresaw; /status counts it
and /retry sends it again). A held message holds its order's later messages, so each order's messages
stay in order; one message's trouble never stops its chat. A file that cannot be fetched at once (the
media host fails, its link expired) keeps its place by a post saying so and follows as a reply to it
(follows.py). When the store refuses to record a post Telegram took, the chat is held (in memory, shown
in /status) and the record is made again until the store takes it: the post is never sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiogram.exceptions import TelegramBadRequest, TelegramEntityTooLarge, TelegramMigrateToChat

from bridge.errors import ChatUnavailable, MediaUnavailable, TelegramAnswerLost, describe
from bridge.store import Pending, Store, Watch
from bridge.tasks import Supervisor, wait_event
from bridge.telegram.constants import MessageLimit
from bridge.telegram.outgoing.calls import TelegramCaller
from bridge.telegram.outgoing.follows import MEDIA_OUTAGE_PATIENCE, MEDIA_RETRY_BASE, FileFollower
from bridge.telegram.outgoing.homes import Homes
from bridge.telegram.outgoing.pacing import BULK
from bridge.telegram.outgoing.refusals import Refusal, refusal
from bridge.telegram.outgoing.render import (
    FILE_FOLLOWS,
    MediaPart,
    Part,
    TextPart,
    media_as_link,
    render,
    text_block,
)
from bridge.telegram.outgoing.retries import Retries
from bridge.telegram.outgoing.sender import TelegramSender
from bridge.telegram.outgoing.unsaved import Unsaved

log = logging.getLogger(__name__)

BATCH_SIZE = 500  # pending messages of a chat read at a time: enough to join a whole backlog per order
COALESCE_BACKLOG = 3  # more waiting than this in a chat: join an order's pending texts into one post
MAX_TIMEOUTS = 3  # a post Telegram never confirmed is tried this often with the chat paused, then its order is held
TIMEOUT_HOLD_CAP = 600.0  # seconds at most between two tries of a post Telegram keeps not confirming
REOPEN_INTERVAL = 60.0  # a topic closed again this soon after the bridge reopened it is left closed
HOME_RETRY_BASE = 30.0  # seconds before retrying an order's home that failed, doubled per failure
MAX_HOME_ATTEMPTS = 3  # then the order's messages go to the chat without a topic or card
CHORE_RETRY_BASE = 30.0  # seconds before editing a card or closing a topic again after it failed, doubled
CHORE_RETRY_CAP = 600.0
IDLE_RECHECK = 5.0
STORE_RETRY_BASE = 1.0  # seconds a chat is held after the store refused a write, doubled per refusal
STORE_RETRY_CAP = 60.0


@dataclass
class Post:
    """One Telegram post carrying one or more chat messages of one order."""

    items: list[Pending]
    blocks: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        """Characters of the joined text."""
        return sum(len(block) + 2 for block in self.blocks)


class _Requeue(Exception):
    """The post was not sent and its messages wait (held, re-homed): plan again."""


class _FileFollows(Exception):
    """The file cannot be fetched now but may be soon: post ``placeholder`` in its place, the file follows."""

    def __init__(self, placeholder: TextPart, reason: str, *, refresh: bool) -> None:
        super().__init__(reason)
        self.placeholder = placeholder
        self.reason = reason
        self.refresh = refresh


def next_post(batch: list[Pending], *, coalesce: bool) -> Post:
    """The next post of a chat: its oldest pending message, with ``coalesce`` joined by its order's later texts.

    Joining takes every pending text of the same order wherever it sits in the queue, stops at the
    order's first media or long text (so the order's messages stay in order) and at Telegram's limit,
    and at a text tried a different number of times: a post's tries are each of its messages' tries, so
    a message never inherits another's (a text that timed out goes again with its like, not with new ones).
    """
    first = batch[0]
    block = text_block(first.message, first.watch.info) if coalesce and not first.parts_done else None
    post = Post([first], [block] if block is not None else [])
    if block is None:
        return post
    for item in batch[1:]:
        if item.watch.order_id != first.watch.order_id:
            continue
        more = text_block(item.message, item.watch.info) if not item.parts_done else None
        if more is None or item.attempts != first.attempts or post.size + len(more) > MessageLimit.TEXT:
            break
        post.items.append(item)
        post.blocks.append(more)
    return post


class Delivery:
    """Sends what the store holds as pending and marks it delivered once Telegram confirms."""

    def __init__(
        self,
        store: Store,
        sender: TelegramSender,
        call: TelegramCaller,
        homes: Homes,
        *,
        media_host: str,
        timeout_pause: float,
    ) -> None:
        """``timeout_pause``: seconds a chat waits after a post's answer was lost, times the post's attempts so far."""
        self._store = store
        self._timeout_pause = timeout_pause
        self._sender = sender
        self._call = call
        self._homes = homes
        self._media_host = media_host
        self._workers = Supervisor()
        self._files = FileFollower(store, sender, call, media_host=media_host)
        self._stopping = False
        self._reopened: dict[str, float] = {}
        self._home_failures: Retries[str] = Retries(HOME_RETRY_BASE, HOME_RETRY_BASE * 2**MAX_HOME_ATTEMPTS)
        self._chore_failures: Retries[tuple[str, str]] = Retries(CHORE_RETRY_BASE, CHORE_RETRY_CAP)
        self._unsaved = Unsaved()
        self._store_refusals: Retries[int] = Retries(STORE_RETRY_BASE, STORE_RETRY_CAP)

    async def run(self) -> None:
        """Start a worker for every chat with work waiting, whenever more arrives, until :meth:`stop`."""
        while True:
            self._store.wakeups.delivery.clear()
            if not self._stopping:
                paused = await self._store.chats.paused()
                store_holds = self._call.stats.store_holds  # a chat's records the store refused come first
                held = paused | store_holds
                now = time.time()
                for chat_id in await self._store.messages.chats_with_work() | store_holds.keys():
                    name = f"deliver:{chat_id}"
                    if held.get(chat_id, (0.0, ""))[0] <= now and not self._workers.running(name):
                        serve = functools.partial(self._serve, chat_id, was_paused=chat_id in paused)
                        self._workers.spawn(name, serve, keep_alive=False)
                if not self._workers.running("files") and await self._store.follows.any_due(MEDIA_OUTAGE_PATIENCE):
                    self._workers.spawn("files", self._files.run, keep_alive=False)
            await wait_event(self._store.wakeups.delivery, IDLE_RECHECK)

    async def stop(self, timeout: float) -> None:
        """Stop taking messages, let posts in flight finish (up to ``timeout``), then cancel."""
        self._stopping = True
        await self._workers.wait(timeout)
        await self._workers.stop()
        for chat_id in self._unsaved.lanes():
            with contextlib.suppress(sqlite3.Error):
                await self._unsaved.flush(chat_id)
        if self._unsaved.kept():
            log.error(
                "the store never recorded %d post(s) Telegram took; they will be posted again after the restart",
                self._unsaved.kept(),
            )

    async def _serve(self, chat_id: int, *, was_paused: bool) -> None:
        """Work through one chat until nothing is left; while the store refuses to write, hold the chat."""
        BULK.set(True)  # this task's posts give way to command replies
        try:
            await self._work(chat_id, was_paused=was_paused)
        except sqlite3.Error as exc:
            self._store_refused(chat_id, exc)
            return
        if self._store_refusals.succeeded(chat_id):
            self._call.stats.store_holds.pop(chat_id, None)
            log.info("chat %s: the store takes writes again; its posts go on", chat_id)

    def _store_refused(self, chat_id: int, exc: sqlite3.Error) -> None:
        """Hold the chat (in memory: the store may not take even that) and try again ever later."""
        refusals, delay = self._store_refusals.failed(chat_id)
        reason = f"the store refused a write: {exc}"
        self._call.stats.store_holds[chat_id] = (time.time() + delay, reason)
        self._wake_in(delay)
        if refusals == 1:
            log.error("chat %s: %s; its posts wait (none is sent twice), retrying ever less often", chat_id, reason)

    async def _work(self, chat_id: int, *, was_paused: bool) -> None:
        """Make the chat's records the store refused before, then post until nothing is left (homes between)."""
        await self._unsaved.flush(chat_id)
        home_turn = True
        try:
            while not self._stopping:
                homes = [w for w in await self._store.orders.homeless(chat_id) if self._home_failures.due(w.order_id)]
                batch = await self._store.messages.pending(chat_id, limit=BATCH_SIZE)
                if homes and (home_turn or not batch):
                    await self._make_home(homes[0])
                elif batch:
                    await self._deliver(chat_id, next_post(batch, coalesce=len(batch) > COALESCE_BACKLOG))
                elif not await self._chores(chat_id):  # (the posts go first: a card edit is a courtesy)
                    break
                home_turn = not home_turn
        except ChatUnavailable as exc:
            await self._pause(chat_id, exc)
            return
        except TelegramMigrateToChat as exc:
            await self._store.chats.move(chat_id, exc.migrate_to_chat_id)
            log.warning("chat %s became supergroup %s; following it", chat_id, exc.migrate_to_chat_id)
            return
        if was_paused and await self._store.chats.resume(chat_id):
            log.info("chat %s: Telegram takes posts again", chat_id)

    async def _pause(self, chat_id: int, exc: ChatUnavailable) -> None:
        already = (await self._store.chats.paused()).get(chat_id)
        await self._store.chats.pause(chat_id, time.time() + exc.retry_in, exc.reason)
        self._wake_in(exc.retry_in)
        if already is None or already[1] != exc.reason:
            log.error("chat %s: %s; its messages are held, retrying in %.0f s", chat_id, exc.reason, exc.retry_in)

    def _wake_in(self, seconds: float) -> None:
        """Look for work again when a held chat's time comes (not at the next idle recheck)."""
        asyncio.get_running_loop().call_later(seconds, self._store.wakeups.delivery.set)

    async def _chores(self, chat_id: int) -> bool:
        """Edit one of the chat's cards that show an old detail, or close one of its finished orders' topics; whether
        one was tried (then the chat's posts are looked at again: one that came meanwhile goes first)."""
        for watch in await self._store.orders.stale_cards(chat_id):
            if await self._chore("editing its card", watch, self._homes.edit_card):
                return True
        for watch in await self._store.orders.topics_to_close(chat_id):
            if await self._chore("closing its topic", watch, self._homes.close):
                return True
        return False

    async def _chore(self, what: str, watch: Watch, do: Callable[[Watch], Awaitable[None]]) -> bool:
        """Edit a card or close a topic; when that fails, try again ever later, the chat's posts going on. Whether it
        was tried (not while waiting after a failure)."""
        key = (what, watch.order_id)
        if not self._chore_failures.due(key):
            return False
        try:
            await do(watch)
        except _BEYOND_ONE_ORDER:
            raise
        except Exception as exc:  # Telegram's answer lost, or unforeseen: only this card or topic waits
            failures, delay = self._chore_failures.failed(key)
            if failures == 1:
                log.warning(
                    "order %s: %s failed (%s); trying again in %.0f s", watch.order_id, what, describe(exc), delay
                )
        else:
            self._chore_failures.succeeded(key)
        return True

    # -- homes -----------------------------------------------------------------------------------

    async def _make_home(self, watch: Watch) -> None:
        """Make one order's home; a failure waits (then gives up on topic and card), never blocking the chat."""
        try:
            await self._homes.ensure(watch, self._unsaved)
        except TelegramBadRequest as exc:
            if refusal(exc) is Refusal.NO_RIGHTS:
                raise ChatUnavailable(exc.message) from None
            await self._home_failed(watch, exc.message)
        except TelegramAnswerLost as exc:
            await self._home_failed(watch, str(exc))
        except _BEYOND_ONE_ORDER:
            raise
        except Exception as exc:  # unforeseen: this order's home waits and is tried again, the chat goes on
            await self._home_failed(watch, describe(exc))
        else:
            self._home_failures.succeeded(watch.order_id)

    async def _home_failed(self, watch: Watch, reason: str) -> None:
        failures, delay = self._home_failures.failed(watch.order_id)
        if failures >= MAX_HOME_ATTEMPTS:
            self._home_failures.succeeded(watch.order_id)  # given up: posted without
            log.error(
                "order %s: no topic or card after %d tries (%s); posting without", watch.order_id, failures, reason
            )
            await self._store.orders.set_home(watch.order_id, watch.made_topic, None)
            return
        log.warning(
            "order %s: making its topic and card failed (%s); retrying in %.0f s", watch.order_id, reason, delay
        )

    # -- posts -----------------------------------------------------------------------------------

    async def _deliver(self, chat_id: int, post: Post) -> None:
        """Send one post (resuming a long text after its last confirmed part) and mark what it carries."""
        first = post.items[0]
        watch = first.watch
        seqs = [item.seq for item in post.items]
        parts: list[Part] = (
            [TextPart("\n\n".join(post.blocks))]
            if len(post.items) > 1
            else render(first.message, watch.info, self._media_host)
        )
        ids: list[int] = []
        follows: _FileFollows | None = None
        try:
            for number, part in enumerate(parts[first.parts_done :], start=first.parts_done + 1):
                try:
                    sent = await self._send(chat_id, watch, part, first)
                except _FileFollows as file_follows:  # its place is kept by a post now, the file follows
                    sent = await self._send(chat_id, watch, file_follows.placeholder, first)
                    follows = file_follows
                if number < len(parts):
                    mark = functools.partial(self._store.messages.mark_part, first.seq, number, chat_id, sent)
                    await self._unsaved.record(chat_id, mark)
                ids.append(sent)
        except _Requeue:
            return
        except TelegramAnswerLost as exc:
            attempts = first.attempts + 1  # a post's messages were tried as often (see next_post)
            if attempts < MAX_TIMEOUTS:
                for seq in seqs:
                    await self._store.messages.note_failure(seq, str(exc))
                raise ChatUnavailable(str(exc), retry_in=self._timeout_pause * attempts) from None
            await self._hold_unconfirmed(watch, seqs, f"{exc} {attempts} times; it may have arrived", attempts)
            return
        except TelegramBadRequest as exc:
            await self._dead_letter(watch, seqs, exc.message)
            return
        except _BEYOND_ONE_ORDER:
            raise
        except Exception as exc:  # unforeseen (a reply aiogram cannot decode, …): this post only, never its chat
            await self._dead_letter(watch, seqs, describe(exc), unexpected=exc)
            return
        if follows is None:
            await self._unsaved.record(
                chat_id, functools.partial(self._store.messages.mark_delivered, seqs, chat_id, ids)
            )
            return
        log.warning(
            "order %s: message %s's file could not be fetched (%s); its place is kept, the file follows",
            *_ids(first),
            follows.reason,
        )
        placed = functools.partial(
            self._store.follows.placed,
            first.seq,
            chat_id,
            ids[0],
            retry_at=time.time() + MEDIA_RETRY_BASE,
            refresh=follows.refresh,
            reason=follows.reason,
        )
        await self._unsaved.record(chat_id, placed)

    async def _send(self, chat_id: int, watch: Watch, part: Part, item: Pending, *, plain: bool = False) -> int:
        """Post one part, healing what can be healed; raises _Requeue when the post must wait."""
        reply_to = None if watch.thread_id else watch.card_message_id
        try:
            return await self._call(
                chat_id, lambda: self._sender.send(chat_id, watch.thread_id, part, reply_to, plain=plain)
            )
        except MediaUnavailable as exc:
            assert isinstance(part, MediaPart)  # only media are fetched
            if exc.transient or (exc.expired and not item.link_refreshed):
                raise _FileFollows(media_as_link(part, FILE_FOLLOWS), exc.reason, refresh=exc.expired) from None
            reason = exc.reason
        except TelegramEntityTooLarge:
            reason = "the file is too large for Telegram"
        except TelegramBadRequest as exc:
            kind = refusal(exc)
            if kind is Refusal.NO_RIGHTS:
                raise ChatUnavailable(exc.message) from None
            if kind is Refusal.THREAD_GONE:
                log.warning("order %s: its topic was deleted; making a new one", watch.order_id)
                await self._store.orders.reset_home(watch.order_id)
                raise _Requeue from None
            if kind is Refusal.TOPIC_CLOSED:
                await self._topic_closed(watch)
                raise _Requeue from None
            if kind is Refusal.ENTITIES and not plain:
                log.warning("order %s: Telegram refused the formatting (%s); sending plain text", watch.order_id, exc)
                return await self._send(chat_id, watch, part, item, plain=True)
            if not isinstance(part, MediaPart):
                raise
            reason = "Telegram refused the file"
        assert isinstance(part, MediaPart)  # only media fail in the ways above
        self._call.stats.errors["media_as_link"] += 1
        log.warning("order %s: sending %s as a link: %s", watch.order_id, part.file_name, reason)
        return await self._send(chat_id, watch, media_as_link(part, reason), item)

    async def _hold_unconfirmed(self, watch: Watch, seqs: list[int], reason: str, attempts: int) -> None:
        """Telegram keeps not confirming a post: hold its order (not the chat) and try again ever later.

        Giving up would lose the message if it never arrived; each try may repeat it if it did, so the
        tries thin out (up to ``TIMEOUT_HOLD_CAP`` apart) and /status shows the order as held.
        """
        delay = min(TIMEOUT_HOLD_CAP, self._timeout_pause * 2**attempts)
        for seq in seqs:
            await self._store.messages.hold(seq, time.time() + delay, reason)
        log.error("order %s: %s; its messages are held, trying again in %.0f s", watch.order_id, reason, delay)

    async def _topic_closed(self, watch: Watch) -> None:
        """Reopen a topic someone closed; if the bridge may not (or it was closed again), post outside it."""
        now = time.monotonic()
        recently = now - self._reopened.get(watch.order_id, -REOPEN_INTERVAL) < REOPEN_INTERVAL
        if watch.thread_id is not None and not recently and await self._homes.reopen(watch):
            self._reopened[watch.order_id] = now
            return
        card = watch.card_message_id if watch.thread_id is not None else None
        log.warning("order %s: its topic is closed; posting in the general thread", watch.order_id)
        await self._store.orders.set_home(watch.order_id, None, card)

    async def _dead_letter(
        self, watch: Watch, seqs: list[int], reason: str, *, unexpected: Exception | None = None
    ) -> None:
        await self._store.messages.dead_letter(seqs, reason)
        self._call.stats.errors["dead_lettered"] += len(seqs)
        log.error(
            "order %s: %s %d message(s) (%s); /retry sends them again",
            watch.order_id,
            "failed unexpectedly on" if unexpected else "Telegram refused for good",
            len(seqs),
            reason,
            exc_info=unexpected,
        )


_BEYOND_ONE_ORDER = (ChatUnavailable, TelegramMigrateToChat, sqlite3.Error)
"""Failures about the whole chat (or the store), not one order: the worker acts on them, never a dead letter."""


def _ids(item: Pending) -> tuple[str, str]:
    return item.watch.order_id, item.message.id
