"""Fetch what is new in every watched order's chat and record it in the store (knows nothing of Telegram)."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bridge.bybit import ChatMessage, MessageKind, OrderInfo
from bridge.bybit.chat import SESSION_CLOCK_SLACK, ChatSource
from bridge.errors import BybitAuthError, BybitError
from bridge.store import State, Store, Watch
from bridge.tasks import wait_event

log = logging.getLogger(__name__)

ANY_ORDER = "*"  # error-log key for failures that are not about one order


@dataclass
class PollStats:
    """What ``/status`` reports about polling."""

    last_success: float | None = None
    errors: Counter[str] = field(default_factory=Counter)


def owner_of(message: ChatMessage, polled: Watch, watched: Collection[str], *, by_session: bool) -> tuple[str, State]:
    """Which watched order a message belongs to, and whether to forward it.

    The order-scoped API serves one order's chat. The session API's messages come attributed to
    one of the counterparty's orders (see :class:`~bridge.bybit.chat.SessionChat`); one of an
    order nobody watches, or older than them all, is only recorded as seen, and reclaimed if its
    order is watched later.
    """
    if message.kind is MessageKind.ORDER_CARD:
        return polled.order_id, State.SKIPPED
    if not by_session:
        return polled.order_id, State.PENDING
    if message.order_id in watched:
        return message.order_id, State.PENDING
    return polled.order_id, State.SKIPPED


def split_backfill(messages: list[ChatMessage], limit: int) -> tuple[list[ChatMessage], list[ChatMessage]]:
    """History fetched on /watch: the newest ``limit`` are forwarded, the rest only marked seen."""
    cut = max(len(messages) - limit, 0)
    return messages[:cut], messages[cut:]


class Poller:
    """Polls every active watch each ``interval`` seconds; wakes early when watches change."""

    def __init__(self, store: Store, source: ChatSource, *, interval: float, backfill_limit: int) -> None:
        self._store = store
        self._source = source
        self._interval = interval
        self._backfill_limit = backfill_limit
        self._last_error: dict[str, str] = {}
        self.stats = PollStats()

    async def run(self) -> None:
        """Poll forever; one order's failure is logged once and never stops the others."""
        while True:
            self._store.watches_changed.clear()
            await self.poll_all()
            await wait_event(self._store.watches_changed, self._interval)

    async def poll_all(self) -> None:
        """One round over every active watch."""
        watches = await self._store.watches()
        for watch in watches:
            try:
                added = await self.poll(watch, watches)
            except Exception as exc:  # one order's trouble must not stop the others
                self._report(watch.order_id, exc)
                continue
            self._recovered(watch.order_id)
            self.stats.last_success = time.time()
            if added:
                log.info("order %s: %d new message(s)", watch.order_id, added)

    async def poll(self, watch: Watch, watches: Sequence[Watch]) -> int:
        """Fetch and record one order's new messages; returns how many await delivery."""
        siblings = [w for w in watches if _same_counterparty(w.info, watch.info)]
        if not watch.backfilled and self._source.current == "session":
            await self._reclaim(watch, siblings)
        related = [w.info for w in siblings if w.order_id != watch.order_id]
        if watch.backfilled:
            fresh = await self._source.fetch_new(watch.info, self._store.known_ids, related=related)
            older: list[ChatMessage] = []
        else:
            # One message past the window is recorded as seen, so the next poll stops there.
            history = await self._source.fetch_new(
                watch.info, self._store.known_ids, at_most=self._backfill_limit + 1, related=related
            )
            older, fresh = split_backfill(history, self._backfill_limit)
        entries = [(watch.order_id, message, State.SKIPPED) for message in older]
        by_session = self._source.current == "session"
        watched = {w.order_id for w in siblings}
        for message in fresh:
            order_id, state = owner_of(message, watch, watched, by_session=by_session)
            entries.append((order_id, message, state))
        added = await self._store.record(entries, backfilled_order=None if watch.backfilled else watch.order_id)
        wanted = await self._store.awaiting_refresh(watch.order_id)
        if wanted:
            await self._store.refreshed(watch.order_id, await self._source.find(watch.info, wanted, related))
            log.info("order %s: fetched fresh media links for %d message(s)", watch.order_id, len(wanted))
        return added

    async def _reclaim(self, watch: Watch, siblings: Sequence[Watch]) -> None:
        """A newly watched order takes back its messages that a sibling's poll saw first."""
        created = watch.info.create_date
        if created is None:
            return
        later = [w.info.create_date for w in siblings if w.info.create_date and w.info.create_date > created]
        until = min(later) - SESSION_CLOCK_SLACK if later else None
        moved = await self._store.reclaim(
            watch.order_id,
            [w.order_id for w in siblings if w.order_id != watch.order_id],
            _ms(created - SESSION_CLOCK_SLACK),
            _ms(until) if until else None,
        )
        if moved:
            log.info(
                "order %s: took over %d message(s) seen under another order of this counterparty", watch.order_id, moved
            )

    def _report(self, order_id: str, exc: Exception) -> None:
        """Count every failure; log it once per order (auth failures once in all), not every poll."""
        self.stats.errors[type(exc).__name__] += 1
        key = ANY_ORDER if isinstance(exc, BybitAuthError) else order_id
        # Bybit's texts carry timestamps; the kind and code say whether this is news.
        signature = f"{type(exc).__name__}:{exc.code}" if isinstance(exc, BybitError) else type(exc).__name__
        if self._last_error.get(key) == signature:
            return
        self._last_error[key] = signature
        if isinstance(exc, BybitAuthError):
            log.error("Bybit refused the API credentials: %s; check BYBIT_API_KEY and BYBIT_API_SECRET", exc)
        elif isinstance(exc, BybitError):
            log.error("order %s: polling failed: %s", order_id, exc)
        else:
            log.exception("order %s: polling failed unexpectedly", order_id)

    def _recovered(self, order_id: str) -> None:
        for key in (order_id, ANY_ORDER):
            if self._last_error.pop(key, None) is not None:
                log.info("order %s: polling works again", order_id)


def _same_counterparty(a: OrderInfo, b: OrderInfo) -> bool:
    if a.id == b.id:
        return True
    return bool(a.target_user_id) and a.target_user_id == b.target_user_id


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
