"""Forgetting what is long settled: orders unwatched for ``RETENTION_DAYS`` are pruned (see ``Orders.prune``)."""

from __future__ import annotations

import asyncio
import logging
import time

from bridge.core.hints import UNREAD_KEY
from bridge.store import Pruned, Store

log = logging.getLogger(__name__)

DAY = 86_400.0
PRUNE_EVERY = 3600.0  # seconds between passes; a shorter retention period checks more often
PRUNE_AT_LEAST_EVERY = 1.0


class Retention:
    """Prunes, at start and then hourly, what orders unwatched for ``days`` days left behind.

    Bybit's unread counts kept for hints (``hints.py``) go too, but those of watched orders and their
    counterparties: a count forgotten and seen again is at most one extra read.
    """

    def __init__(self, store: Store, days: float) -> None:
        self._store = store
        self.period = days * DAY
        self.interval = min(PRUNE_EVERY, max(self.period / 4, PRUNE_AT_LEAST_EVERY))

    async def run(self) -> None:
        """Prune now and every ``interval`` seconds, forever."""
        while True:
            await self.prune()
            await asyncio.sleep(self.interval)

    async def prune(self) -> Pruned:
        """One pass; logs what it forgot."""
        pruned = await self._store.orders.prune(time.time() - self.period)
        watches = await self._store.orders.active()
        counted = {f"order:{w.order_id}" for w in watches} | {f"session:{w.info.target_nick_name}" for w in watches}
        counts = await self._store.values.forget(UNREAD_KEY, counted)
        log.log(
            logging.INFO if pruned.messages or pruned.orders else logging.DEBUG,
            "retention: pruned %d message(s), %d post(s), %d reply(ies) and %d order(s) unwatched %.4g day(s) ago"
            " and %d unread count(s) of orders not watched",
            pruned.messages,
            pruned.posts,
            pruned.replies,
            pruned.orders,
            self.period / DAY,
            counts,
        )
        return pruned
