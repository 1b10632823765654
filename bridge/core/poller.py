"""Fetch what is new in the watched chats and record it in the store (knows nothing of Telegram).

A *chat* is what Bybit lists in one read: one order on the order-scoped API, one counterparty (all
its orders) on the session API. A :class:`~bridge.core.schedule.Schedule` decides which chat to read
next; Bybit's unread counts (the open-order list read here, and the session list on the session API, read
by :mod:`~bridge.core.sweep`) hint which chats have news (:mod:`~bridge.core.hints`); the open-order list's other
pages are read by :mod:`~bridge.core.openorders`. Reads of different
chats run at once, as fast as the client's budget allows.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from bridge.bybit import URGENT_READS, BybitClient, ChatMessage, OrderSummary
from bridge.bybit.chat import ChatSource, collect_new, find
from bridge.core.attribution import SYSTEM_NICKNAME, Counterparty, to_chat_message
from bridge.core.autowatch import AutoWatch
from bridge.core.chats import (
    Chat,
    chats_of,
    finished_cap,
    oldest_first,
    plan_records,
    quiet_for,
    read_cap,
    stage_rate,
)
from bridge.core.failures import Failures
from bridge.core.hints import Hints
from bridge.core.listing import Listing
from bridge.core.openorders import OpenOrders
from bridge.core.schedule import Due, Schedule
from bridge.core.stats import PollStats
from bridge.core.statuses import StatusTracker
from bridge.core.sweep import UNREAD_SESSIONS, SessionSweep
from bridge.errors import ChatApiRetired
from bridge.ratelimit import YIELD_SECONDS
from bridge.store import Store, Watch
from bridge.tasks import wait_event

log = logging.getLogger(__name__)

MAX_CONCURRENT_READS = 8  # chats read at once: one slow answer never delays every other chat
FIRST_PAGE_SHARE = 0.05  # at most this share of the read budget goes to the open-order list's first page…
IDLE_FIRST_PAGE_SHARE = 0.02  # …or this share when quiet, if the session list brings the news (new orders wait longer)
WATCH_RESYNC = 30.0  # seconds: watches are read anew at least this often (at once when they change)
IDLE_WAKE = 5.0  # seconds the reader sleeps at most when nothing is due
STATUS_PERIOD = 5.0  # seconds between two status checks, unless a system message asks for one sooner…
STATUS_LOOK_PERIOD = 60.0  # …each a look at every watch only when the open-order list changed, or after this long
ORDER_STATUSES = "order statuses"


class Poller:
    """Reads each watched chat when the schedule says, wakes early on hints and when watches change."""

    def __init__(
        self,
        store: Store,
        source: ChatSource,
        client: BybitClient,
        *,
        schedule: Schedule,
        backfill_limit: int,
        statuses: StatusTracker | None = None,
        autowatch: AutoWatch | None = None,
        listing: Listing,
    ) -> None:
        self._store = store
        self._source = source
        self._client = client
        self._schedule = schedule
        self._backfill_limit = backfill_limit
        self._statuses = statuses
        self._autowatch = autowatch
        self._chats: dict[str, Chat] = {}
        self._chat_of: dict[str, str] = {}  # order id → the key of the chat it is read in
        self._refresh: set[str] = set()  # orders with messages waiting for a fresh media link, as of the last sync
        self._hinted: set[str] = set()  # orders with a new system message: their status is read next
        self._listed_statuses: dict[str, int] = {}  # the open orders' statuses at the last look at every watch
        self._looked = -math.inf  # …and when it was
        self._reads: set[asyncio.Task[None]] = set()  # the chat reads under way
        self._api = source.current  # the chat API the chats were last made for
        self._read_back: set[str] = set()  # chats read back to their orders' oldest newest message (after a switch)
        self._read_at: dict[str, float] = {}  # order id → when the last good read of its chat started (epoch s)
        self._kick = asyncio.Event()  # the reader looks again: a read ended, a hint came, watches changed
        self._status_due = asyncio.Event()
        self.stats = PollStats()
        self._failures = Failures(self.stats)
        self._hints = Hints(store, schedule, self.stats, self._kick, bybit_clock=client.now)
        self._open = OpenOrders(
            client,
            listing,
            self._failures,
            self._hints,
            seen=self._listed,
            active=lambda: self._autowatch is not None or bool(self._chats),
            hinting=lambda: self._hints_from_orders() and bool(self._chats),
            hinted_waiting=self.hinted_waiting,
        )
        self._sweep = SessionSweep(
            client,
            self._hints,
            self._failures,
            active=lambda: self._source.current == "session" and bool(self._chats),
            hinted_waiting=self.hinted_waiting,
        )

    async def run(self) -> None:
        """Poll forever; one chat's failure is logged once and never stops the others."""
        await self._hints.load()
        await self._sync()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._follow_watches())
            group.create_task(self._follow_open_orders())
            group.create_task(self._open.follow_pages())
            group.create_task(self._sweep.run())
            group.create_task(self._read_chats())

    # -- what to read -----------------------------------------------------------------------------

    async def _sync(self) -> None:
        """Read the watches anew: chats to read by the API in use, media links wanted first."""
        watches = await self._store.orders.active()
        self._chats = chats_of(watches, self._source.current)
        switched, self._api = self._api != self._source.current, self._source.current
        if switched:  # each order was last read on its own: read each chat back to its orders' oldest newest message
            self._read_back = set(self._chats)
        chat_of = {w.order_id: key for key, chat in self._chats.items() for w in chat.watches}
        if chat_of.keys() != self._chat_of.keys():
            self._looked = -math.inf  # new watches: their statuses are looked at in the next round
        self._chat_of = chat_of
        self._read_at = {order_id: at for order_id, at in self._read_at.items() if order_id in chat_of}
        now = time.time()
        caps = {key: finished_cap(chat, now, self._schedule.floor) for key, chat in self._chats.items()}
        self._schedule.cap({key: cap for key, cap in caps.items() if cap is not None})
        self._sweep.chats = {chat.nick: key for key, chat in self._chats.items() if chat.nick}
        self._sweep.listed.watched(w.info for w in watches)
        read_before = {key for key, chat in self._chats.items() if all(w.backfilled for w in chat.watches)}
        read_before -= self._read_back  # (read back at once, not at random within the ceiling)
        self._schedule.track(self._chats, read_before=read_before)
        self._schedule.expect({key: stage_rate(chat) for key, chat in self._chats.items()})
        self.stats.chats = len(self._chats)
        self.stats.ceiling = self._schedule.ceiling
        self._tell_ceiling()
        self._refresh = refresh = await self._store.messages.orders_awaiting_refresh()
        for key, chat in self._chats.items():  # newly watched chats (their history) and media links wanted go first
            if any(not w.backfilled or w.order_id in refresh for w in chat.watches):
                self._schedule.hint(key)
        self._kick.set()

    def _tell_ceiling(self) -> None:
        """Log (and show in /status) when the budget cannot read every chat once per POLL_INTERVAL_MAX, by how much.

        Told again whenever the ceiling in force moves by a tenth or more as chats come and go, and when it is kept.
        """
        ceiling, told = self._schedule.ceiling, self.stats.stretched_to
        self.stats.stretched, self.stats.stretched_to = self._schedule.stretched, ceiling
        if self._schedule.stretched and not 0.9 <= ceiling / (told or math.inf) <= 1.1:
            log.warning(
                "%d chats are more than Bybit's budget reads once per POLL_INTERVAL_MAX (%.0f s): each is read at"
                " least every %.0f s instead; Bybit's unread counts still bring news at once",
                len(self._chats),
                self._schedule.configured_ceiling,
                ceiling,
            )
        elif not self._schedule.stretched:
            if told:
                log.info("every chat is read at least once per POLL_INTERVAL_MAX again (%d chats)", len(self._chats))
            self.stats.stretched_to = 0.0

    def _tell_blind(self) -> None:
        """Log (and show in /status) when Bybit's unread counts start or stop missing the news."""
        if self._schedule.blind != self.stats.blind:
            self.stats.blind = self._schedule.blind
            if self.stats.blind:
                log.info("Bybit's unread counts miss the news (left out, or read in the app): chats are read in turn")
            else:
                log.info("Bybit's unread counts announce the news again")

    async def _follow_watches(self) -> None:
        while True:
            self._store.wakeups.poller.clear()
            await self._sync()
            await wait_event(self._store.wakeups.poller, WATCH_RESYNC)

    async def _follow_open_orders(self) -> None:
        """Read the open-order list's first page every floor (less often when quiet) and look at the statuses.

        The list brings new orders (``AUTO_WATCH``), statuses, the orders a session message may be
        about, and unread counts per order; new orders come first on it (its other pages:
        :meth:`~bridge.core.openorders.OpenOrders.follow_pages`).
        """
        URGENT_READS.set(True)  # new orders and status changes are news too; this task paces itself
        last_statuses = -math.inf
        while True:
            if self._autowatch is not None or self._chats:
                await self._open.read_first()
            if self._status_due.is_set() or time.monotonic() - last_statuses >= STATUS_PERIOD:
                self._status_due.clear()
                last_statuses = time.monotonic()
                await self._check_statuses()  # reads every watch from the store: not on every page read
            share = IDLE_FIRST_PAGE_SHARE if self._hints.quiet() and not self._hints_from_orders() else FIRST_PAGE_SHARE
            first_page_period = 1 / (share * self._client.reads_per_second)
            await wait_event(self._status_due, max(self._schedule.floor, first_page_period))

    async def _listed(self, orders: Sequence[OrderSummary], asked: float, before: Sequence[OrderSummary]) -> None:
        """Act on a read of the open-order list (``orders`` on the page(s) read, asked for at ``asked``, monotonic):
        statuses, new orders, unread counts."""
        if self._watched_listing(self._open.orders or ()) != self._watched_listing(before):
            self._status_due.set()  # a watched order's status changed, or it left the list: look now
        if self._autowatch is not None and await self._autowatch.round(self._open.orders or []):
            await self._sync()
        hints = self._hints_from_orders()
        for order in orders:
            self._sweep.listed.shown(order.target_nick_name, order.target_user_id, asked)
            counted = order.unread is not None
            self._hints.notice(
                "order", order.id, order.unread or 0, self._chat_of.get(order.id), hint=hints, counted=counted
            )
        await self._hints.save()

    def _watched_listing(self, listed: Sequence[OrderSummary]) -> dict[str, int]:
        """The watched orders among ``listed``, with their statuses."""
        return {order.id: order.status for order in listed if order.id in self._chat_of}

    def _hints_from_orders(self) -> bool:
        """Whether the open-order list's unread counts are the hints: on the order API, or while the session list fails.

        On the session API the session list brings the news; the same message counted again here would
        read its chat twice.
        """
        return self._source.current == "order" or self._failures.failing(UNREAD_SESSIONS)

    async def _check_statuses(self) -> None:
        """Look at every watch's status when there may be news (the list changed, a hint, a recheck); retire."""
        if self._statuses is None:
            return
        hinted, self._hinted = self._hinted, set()
        listed = {order.id: order.status for order in self._open.orders or ()}
        try:
            if hinted or listed != self._listed_statuses or time.monotonic() - self._looked >= STATUS_LOOK_PERIOD:
                await self._statuses.round(await self._store.orders.active(), self._open.orders, hinted)
                self._listed_statuses, self._looked = listed, time.monotonic()
            # (reading a thousand watches from the store is the costly part of an idle round: not every time)
            for order_id in await self._statuses.retire(self._read_at):  # finished: read once more, then retired
                if order_id in self._chat_of:
                    self._schedule.hint(self._chat_of[order_id])
                    self._kick.set()
        except Exception as exc:  # a status read that fails is tried again next time
            self._hinted |= hinted
            self._failures.report(ORDER_STATUSES, exc)
        else:
            self._failures.recovered(ORDER_STATUSES, called_bybit=False)

    # -- reading ----------------------------------------------------------------------------------

    async def _read_chats(self) -> None:
        """Start due reads while the budget has room, up to ``MAX_CONCURRENT_READS`` at once.

        A read starts only when the budget can take its first request now, so the next chat is picked
        when a slot frees, not queued early; hinted chats may use the budget's reserve.
        """
        reads = self._reads

        def finished(task: asyncio.Task[None]) -> None:
            reads.discard(task)
            self._kick.set()

        try:
            while True:
                self._kick.clear()
                self.stats.ceiling = self._schedule.ceiling
                self._tell_blind()
                taken = self._take() if len(reads) < MAX_CONCURRENT_READS else None
                if taken is not None:
                    due, urgent = taken
                    self.stats.lag.observe(due.lag)
                    task = asyncio.create_task(self._read(due.key, urgent=urgent))
                    reads.add(task)
                    task.add_done_callback(finished)
                    await asyncio.sleep(0)  # the read takes its budget slot before the next one looks
                    continue
                await wait_event(self._kick, self._pause())
        finally:
            for task in reads:
                task.cancel()
            await asyncio.gather(*reads, return_exceptions=True)

    def _take(self) -> tuple[Due, bool] | None:
        """The next chat to read, if the budget has room for it now, hinted chats first; and whether its requests may
        use the budget's reserve (it was hinted, or no hinted chat waits for the budget).

        A chat merely due is always allowed half the read slots and the budget outside its reserve; while no
        hinted chat waits, it may use the rest too, and a chat likely to have news is read early: the budget is
        never idle while a chat is due, and spare budget goes where news is likeliest (no hint needed).
        """
        if self._client.read_delay(urgent=True) > 0:
            return None
        guaranteed = len(self._reads) < MAX_CONCURRENT_READS // 2 and self._client.read_delay() <= 0
        spare = self._schedule.next_due(hinted_only=True) != 0  # no hinted chat waits for the budget
        due = self._schedule.take(1, hinted_only=not (guaranteed or spare), early=spare)
        # (taken on what no hinted chat waits for: its requests never queue behind slower reads for the budget
        # outside the reserve, and its later pages may use the reserve too)
        return (due[0], due[0].hinted or spare or not guaranteed) if due else None

    def hinted_waiting(self) -> bool:
        """Whether a hinted chat waits for the budget, or for a read slot (the reads under way wait for the budget: it
        goes before the session list's next page, a watch's order detail)."""
        return self._schedule.next_due(hinted_only=True) == 0

    def reads_waiting(self) -> bool:
        """Whether a chat read (hinted, due, or likely to find news) waits for the budget or a read slot (an order's
        detail goes after it)."""
        return self._schedule.next_due(early=True) == 0

    def _pause(self) -> float:
        """How long the reader may sleep when it cannot start a read now (a kick wakes it sooner)."""
        if len(self._reads) >= MAX_CONCURRENT_READS:
            return IDLE_WAKE
        waits = [IDLE_WAKE]
        due = self._schedule.next_due(early=True)  # (a hinted chat, or any, when nothing hinted waits: see _take)
        if self._schedule.ahead():  # (blind: the spare budget reads chats ahead of their time)
            due = 0.0
        if due is not None:
            waits.append(max(due, self._client.read_delay(urgent=True)))
        return max(min(waits), YIELD_SECONDS)

    async def _read(self, key: str, *, urgent: bool) -> None:
        """Read one chat; tell the schedule whether it had news (or failed)."""
        URGENT_READS.set(urgent)  # this task's own context: its requests go first when Bybit hinted at news
        chat = self._chats.get(key)
        if chat is None:
            return
        started = time.time()
        try:
            if self._source.current == "order":
                found = await self._poll_order(chat.watches[0])
            else:
                await self._open.read_once()  # which orders a message may be about: the list is needed first
                found = await self._poll_session(key, chat.watches)
        except ChatApiRetired as exc:
            if await self._source.order_chat_retired(exc) or self._source.current == "session":
                await self._sync()  # the same orders, now read by counterparty
                return
            self._failed(key, chat.name, exc)
        except Exception as exc:  # one chat's trouble must not stop the others
            self._failed(key, chat.name, exc)
        else:
            self._failures.recovered(chat.name)
            self._read_at.update(dict.fromkeys((w.order_id for w in chat.watches), started))
            if any(w.backfilled for w in chat.watches):
                self._schedule.done(key, news=len(found), missed=self._missed(key, chat, found))
            else:  # a first read's news is the past, not talk; how long the chat has been quiet says how lively it is
                self._schedule.done(key, news=0, history=quiet_for(chat.watches, found, started))
            self._backfilled(key, {w.order_id for w in chat.watches if not w.backfilled})

    def _missed(self, key: str, chat: Chat, found: Sequence[ChatMessage]) -> bool:
        """Whether a count of the chat read well after the counterparty's first new message missed it (a count
        rises with the counterparty's messages only)."""
        you = chat.watches[0].info.user_id
        theirs = [m.created_ms for m in found if m.user_id != you and not m.is_system]
        return bool(theirs) and self._hints.missed(key, min(theirs) / 1000)

    def _backfilled(self, key: str, order_ids: set[str]) -> None:
        """These orders of a chat are backfilled now: its next read takes everything new (no store read)."""
        chat = self._chats.get(key)
        if order_ids and chat is not None:
            watches = tuple(replace(w, backfilled=True) if w.order_id in order_ids else w for w in chat.watches)
            self._chats[key] = replace(chat, watches=watches)

    def _failed(self, key: str, name: str, exc: Exception) -> None:
        self._failures.report(name, exc)
        self._schedule.failed(key)

    async def _poll_order(self, watch: Watch) -> list[ChatMessage]:
        """Record the order's new messages; return them."""
        limit = None if watch.backfilled else self._backfill_limit
        found = await collect_new(
            self._source.order_pages(watch.order_id), self._store.messages.known_ids, read_cap(limit)
        )
        owned = [(watch.order_id, message) for message in oldest_first(found)]
        await self._record([watch], owned, limit)
        wanted = await self._awaiting_refresh([watch.order_id])
        if wanted:
            fresh = await find(self._source.order_pages(watch.order_id), wanted)
            await self._refreshed(watch.order_id, wanted, {msg_id: item.message for msg_id, item in fresh.items()})
        return [message for _, message in owned]

    async def _poll_session(self, key: str, group: Sequence[Watch]) -> list[ChatMessage]:
        """Record the counterparty's new messages, each with the order it is likely about; return them."""
        info = group[0].info
        limit = None if any(w.backfilled for w in group) else self._backfill_limit
        listed = self._sweep.listed.session_of(info)  # the session list may have named its session: no getSessionId
        if listed is None and not self._source.knows(info.target_user_mask_id):
            await self._sweep.name(self._unnamed())  # (many new counterparties: the list of every session names them)
            listed = self._sweep.listed.session_of(info)
        if listed is not None:
            await self._source.adopt(info.target_user_mask_id, listed)
        pages = self._source.session_pages(info.target_user_mask_id)
        back_to = await self._back_to(key, group)
        found = oldest_first(await collect_new(pages, self._store.messages.known_ids, read_cap(limit), back_to=back_to))
        notices = [item.create_date for item in found if item.send_user_nick_name == SYSTEM_NICKNAME]
        if notices and max(notices) > self._open.since:  # Bybit's notice of an order the list may not show yet
            # (a counterparty's new order shows in the chat, the notice then the buyer's first words, before the list
            # read last shows it; without it those words would go, unmarked, to the counterparty's older order)
            await self._open.read_since(max(notices))
        if self._store.wakeups.poller.is_set():  # an order of this counterparty watched while Bybit answered
            self._store.wakeups.poller.clear()  # may own a message (and _follow_watches need not sync again)
            await self._sync()
        group = self._chats[key].watches if key in self._chats else group
        counterparty = Counterparty(
            watched={w.order_id: w.info.create_date for w in group},
            known=self._open.by_user.get(info.target_user_id, {}),
        )
        owned = []
        for item in found:
            likeliest, owner = counterparty.owner(item.create_date)
            owned.append((owner, to_chat_message(item, info, likeliest)))
        await self._record(group, owned, limit)
        self._read_back.discard(key)
        wanted = await self._awaiting_refresh([w.order_id for w in group])
        if wanted:
            fresh = await find(self._source.session_pages(info.target_user_mask_id), wanted)
            links = {msg_id: item.content for msg_id, item in fresh.items()}
            await self._refreshed(info.target_nick_name, wanted, links)
        return [message for _, message in owned]

    def _unnamed(self) -> set[str]:
        """The nicknames of the watched counterparties whose session id is neither known nor listed yet."""
        infos = [(chat.nick, chat.watches[0].info) for chat in self._chats.values() if chat.nick]
        return {
            nick
            for nick, info in infos
            if not self._source.knows(info.target_user_mask_id) and self._sweep.listed.session_of(info) is None
        }

    async def _back_to(self, key: str, group: Sequence[Watch]) -> datetime | None:
        """How far back a chat is read after the switch: to the oldest of its orders' newest known messages."""
        if key not in self._read_back:
            return None
        newest = await self._store.messages.newest_known([w.order_id for w in group])
        return datetime.fromtimestamp(min(newest.values()) / 1000, tz=UTC) if newest else None

    async def _record(self, group: Sequence[Watch], owned: list[tuple[str, ChatMessage]], limit: int | None) -> None:
        """Record a chat's new messages, then finish the backfill of its newly watched orders."""
        system = {owner for owner, message in owned if message.is_system}
        if system:
            self._hinted |= system
            self._status_due.set()
        echoes = await self._echoes(group, owned)
        added = await self._store.messages.record(plan_records(owned, limit, echoes))
        newly_watched = [w.order_id for w in group if not w.backfilled]
        if newly_watched:
            added += await self._store.messages.finish_backfill(newly_watched, self._backfill_limit)
        if added:
            log.info("%s: %d new message(s) to forward", ", ".join(w.order_id for w in group), added)

    async def _echoes(self, group: Sequence[Watch], owned: Sequence[tuple[str, ChatMessage]]) -> set[str]:
        """Which of your new messages are the bridge's own replies coming back from Bybit."""
        you = group[0].info.user_id
        order_ids = [w.order_id for w in group]
        return {
            message.id
            for _, message in owned
            if you
            and message.user_id == you
            and not message.is_system
            and await self._store.outbox.match_echo(
                order_ids, message.message, message.msg_uuid, message.created_ms, message.id
            )
        }

    async def _awaiting_refresh(self, order_ids: list[str]) -> set[str]:
        """The orders' messages waiting for a fresh media link (the store is asked only about orders that have some)."""
        if self._refresh.isdisjoint(order_ids):
            return set()
        return await self._store.messages.awaiting_refresh(order_ids)

    async def _refreshed(self, chat: str, wanted: set[str], links: dict[str, str]) -> None:
        await self._store.messages.refreshed(wanted, links)
        log.info("%s: fetched %d of %d fresh media link(s)", chat, len(links), len(wanted))
