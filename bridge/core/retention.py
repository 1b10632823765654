"""Forgetting what is long settled: orders unwatched for ``RETENTION_DAYS`` are pruned (see ``Orders.prune``)."""

from __future__ import annotations

import asyncio
import logging
import time

from bridge.store import Pruned, Store

log = logging.getLogger(__name__)

DAY = 86_400.0
PRUNE_EVERY = 3600.0  # seconds between passes; a shorter retention period checks more often
PRUNE_AT_LEAST_EVERY = 1.0


class Retention:
    """Prunes, at start and then hourly, what orders unwatched for ``days`` days left behind."""

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
        log.log(
            logging.INFO if pruned.messages or pruned.orders else logging.DEBUG,
            "retention: pruned %d message(s), %d post(s), %d reply(ies) and %d order(s) unwatched %.4g day(s) ago",
            pruned.messages,
            pruned.posts,
            pruned.replies,
            pruned.orders,
            self.period / DAY,
        )
        return pruned
