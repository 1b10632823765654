"""Fetch what is new in every watched chat and record it in the store (knows nothing of Telegram).

A *chat* is what Bybit lists in one read: one order on the order-scoped API, one counterparty (all
its orders) on the session API. Each round reads every chat once.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import TypeVar

from bridge.bybit import BybitClient, ChatMessage, MessageKind
from bridge.bybit.chat import ChatSource, collect_new, find
from bridge.bybit.models import ChatItem, OrderSummary
from bridge.core.attribution import Counterparty, to_chat_message
from bridge.core.autowatch import AutoWatch
from bridge.core.stats import PollStats
from bridge.core.statuses import StatusTracker
from bridge.errors import BybitAuthError, BybitError, ChatApiRetired
from bridge.store import State, Store, Watch
from bridge.tasks import wait_event

log = logging.getLogger(__name__)

MAX_CONCURRENT_READS = 8  # chats read at once: one slow answer no longer delays every other chat
ANY_CHAT = "*"  # error-log key for failures that are not about one chat
OPEN_ORDERS = "open orders"
ORDER_STATUSES = "order statuses"


def plan_records(
    owned: Sequence[tuple[str, ChatMessage]], backfill_limit: int | None, echoes: Collection[str] = ()
) -> list[tuple[str, ChatMessage, State]]:
    """Delivery states for new messages (oldest first, with the order each goes to).

    On a backfill read only the newest ``backfill_limit`` are forwarded; older ones (and Bybit's
    machine-readable order cards) are only marked seen, so the next read stops at them. ``echoes``
    are the bridge's own replies coming back: recorded, not forwarded again.
    """
    cut = max(len(owned) - backfill_limit, 0) if backfill_limit is not None else 0
    return [(order_id, message, _state(message, n < cut, echoes)) for n, (order_id, message) in enumerate(owned)]


def _state(message: ChatMessage, before_window: bool, echoes: Collection[str]) -> State:
    if message.id in echoes:
        return State.ECHO
    if before_window or message.kind is MessageKind.ORDER_CARD:
        return State.SKIPPED
    return State.PENDING


Item = TypeVar("Item", bound=ChatItem)


def oldest_first(messages: Sequence[Item]) -> list[Item]:
    """Messages in the order they were written (ids break ties)."""
    return sorted(messages, key=lambda m: (m.create_date, len(m.id), m.id))


class Poller:
    """Polls every watched chat each ``interval`` seconds; wakes early when watches change."""

    def __init__(
        self,
        store: Store,
        source: ChatSource,
        client: BybitClient,
        *,
        interval: float,
        backfill_limit: int,
        statuses: StatusTracker | None = None,
        autowatch: AutoWatch | None = None,
    ) -> None:
        self._store = store
        self._source = source
        self._client = client
        self._interval = interval
        self._backfill_limit = backfill_limit
        self._statuses = statuses
        self._autowatch = autowatch
        self._last_error: dict[str, str] = {}
        self._hinted: set[str] = set()
        self.stats = PollStats()

    async def run(self) -> None:
        """Poll forever; one chat's failure is logged once and never stops the others."""
        while True:
            self._store.wakeups.poller.clear()
            await self.poll_all()
            await wait_event(self._store.wakeups.poller, self._interval)

    async def poll_all(self) -> None:
        """One round: new open orders watched (with AUTO_WATCH), every watched chat read once, statuses checked."""
        watches = await self._store.orders.active()
        wants_list = self._autowatch is not None or (bool(watches) and self._source.current == "session")
        open_orders = await self._open_orders() if wants_list else None
        if self._autowatch is not None and open_orders and await self._autowatch.round(open_orders):
            watches = await self._store.orders.active()
        if not watches:
            return
        self._hinted = set()
        if self._source.current == "session" or await self._poll_orders(watches):
            if open_orders is None:
                open_orders = await self._open_orders()
            await self._poll_sessions(watches, open_orders or [])
        if self._statuses is not None:
            try:
                await self._statuses.round(watches, open_orders, self._hinted)
            except Exception as exc:  # a status read that fails is tried again next round
                self._report(ORDER_STATUSES, exc)
            else:
                self._recovered(ORDER_STATUSES, called_bybit=False)

    async def _poll_orders(self, watches: Sequence[Watch]) -> bool:
        """Read each order's chat; True when Bybit retired that API and the round must go on by session."""
        reads = [(f"order {watch.order_id}", functools.partial(self._poll_order, watch)) for watch in watches]
        failures = await self._read_all(reads)
        if any(isinstance(exc, ChatApiRetired) for exc in failures):
            await self._source.order_chat_retired()
        switched = self._source.current == "session"
        for (name, _), exc in zip(reads, failures, strict=True):
            if exc is None:
                self._recovered(name)
            elif not (switched and isinstance(exc, ChatApiRetired)):
                self._report(name, exc)
        return switched

    async def _read_all(self, reads: Sequence[tuple[str, Callable[[], Awaitable[None]]]]) -> list[Exception | None]:
        """Read independent chats at once (the client's budget paces the requests); each one's failure, or None."""
        gate = asyncio.Semaphore(MAX_CONCURRENT_READS)

        async def read_one(read: Callable[[], Awaitable[None]]) -> Exception | None:
            async with gate:
                try:
                    await read()
                except Exception as exc:  # one chat's trouble must not stop the others
                    return exc
            return None

        return list(await asyncio.gather(*(read_one(read) for _, read in reads)))

    async def _poll_order(self, watch: Watch) -> None:
        limit = None if watch.backfilled else self._backfill_limit
        found = await collect_new(
            self._source.order_pages(watch.order_id), self._store.messages.known_ids, _read_cap(limit)
        )
        owned = [(watch.order_id, message) for message in oldest_first(found)]
        await self._record([watch], owned, limit)
        wanted = await self._store.messages.awaiting_refresh([watch.order_id])
        if wanted:
            fresh = await find(self._source.order_pages(watch.order_id), wanted)
            await self._refreshed(watch.order_id, wanted, {msg_id: item.message for msg_id, item in fresh.items()})

    async def _poll_sessions(self, watches: Sequence[Watch], open_orders: Sequence[OrderSummary]) -> None:
        """Read each counterparty's session once."""
        groups: defaultdict[str, list[Watch]] = defaultdict(list)
        for watch in watches:
            groups[watch.info.target_user_mask_id or watch.info.target_user_id or watch.order_id].append(watch)
        reads = [
            (
                f"counterparty {group[0].info.target_nick_name or group[0].order_id}",
                functools.partial(self._poll_session, group, open_orders),
            )
            for group in groups.values()
        ]
        for (name, _), exc in zip(reads, await self._read_all(reads), strict=True):
            if exc is None:
                self._recovered(name)
            else:
                self._report(name, exc)

    async def _open_orders(self) -> list[OrderSummary] | None:
        """Every open order (every page, once a round); None when Bybit would not say."""
        try:
            orders = await self._client.pending_orders()
        except Exception as exc:
            self._report(OPEN_ORDERS, exc)
            return None
        self._recovered(OPEN_ORDERS)
        return orders

    async def _poll_session(self, group: Sequence[Watch], open_orders: Sequence[OrderSummary]) -> None:
        info = group[0].info
        counterparty = Counterparty(
            watched={w.order_id: w.info.create_date for w in group},
            known={o.id: o.create_date for o in open_orders if o.target_user_id == info.target_user_id},
        )
        limit = None if any(w.backfilled for w in group) else self._backfill_limit
        pages = self._source.session_pages(info.target_user_mask_id)
        owned = []
        for item in oldest_first(await collect_new(pages, self._store.messages.known_ids, _read_cap(limit))):
            likeliest, owner = counterparty.owner(item.create_date)
            owned.append((owner, to_chat_message(item, info, likeliest)))
        await self._record(group, owned, limit)
        wanted = await self._store.messages.awaiting_refresh([w.order_id for w in group])
        if wanted:
            fresh = await find(self._source.session_pages(info.target_user_mask_id), wanted)
            links = {msg_id: item.content for msg_id, item in fresh.items()}
            await self._refreshed(info.target_nick_name, wanted, links)

    async def _record(self, group: Sequence[Watch], owned: list[tuple[str, ChatMessage]], limit: int | None) -> None:
        """Record a chat's new messages, then finish the backfill of its newly watched orders."""
        self._hinted.update(owner for owner, message in owned if message.is_system)
        echoes = await self._echoes(group, owned)
        added = await self._store.messages.record(plan_records(owned, limit, echoes))
        newly_watched = [w.order_id for w in group if not w.backfilled]
        if newly_watched:
            added += await self._store.messages.finish_backfill(newly_watched, self._backfill_limit)
        self.stats.last_success = time.time()
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

    async def _refreshed(self, chat: str, wanted: set[str], links: dict[str, str]) -> None:
        await self._store.messages.refreshed(wanted, links)
        log.info("%s: fetched %d of %d fresh media link(s)", chat, len(links), len(wanted))

    def _report(self, chat: str, exc: Exception) -> None:
        """Count every failure; log it once per chat (auth failures once in all), not every poll."""
        self.stats.errors[type(exc).__name__] += 1
        key = ANY_CHAT if isinstance(exc, BybitAuthError) else chat
        # Bybit's texts carry timestamps; the kind and code say whether this is news.
        signature = f"{type(exc).__name__}:{exc.code}" if isinstance(exc, BybitError) else type(exc).__name__
        if self._last_error.get(key) == signature:
            return
        self._last_error[key] = signature
        if isinstance(exc, BybitAuthError):
            log.error("Bybit refused the API credentials: %s; check BYBIT_API_KEY and BYBIT_API_SECRET", exc)
        elif isinstance(exc, BybitError):
            log.error("%s: polling failed: %s", chat, exc)
        else:
            log.exception("%s: polling failed unexpectedly", chat)

    def _recovered(self, chat: str, *, called_bybit: bool = True) -> None:
        """``chat`` works again; a Bybit call that succeeded also shows the credentials work."""
        for key in (chat, ANY_CHAT) if called_bybit else (chat,):
            if self._last_error.pop(key, None) is not None:
                log.info("%s: polling works again", chat)


def _read_cap(backfill_limit: int | None) -> int | None:
    """How many new messages a read may take: on a backfill one past the window, marked seen as a stop."""
    return None if backfill_limit is None else backfill_limit + 1
