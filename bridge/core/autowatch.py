"""Watching every new open order without a command (``AUTO_WATCH``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bridge.bybit import OrderSummary
from bridge.core.watchlist import Outcome, Watchlist
from bridge.store import Store

log = logging.getLogger(__name__)


class AutoWatch:
    """Watches each open order the bridge has never watched into ``chat_id`` (one /unwatch stays undone)."""

    def __init__(self, store: Store, watchlist: Watchlist, chat_id: int) -> None:
        self._store = store
        self._watchlist = watchlist
        self._chat_id = chat_id
        self._refused: set[str] = set()
        self._known: set[str] = set()  # open orders the store knows: not asked again while they stay open

    async def round(self, open_orders: Sequence[OrderSummary]) -> int:
        """Watch the new ones among ``open_orders`` (their Bybit reads at once); returns how many."""
        new = []
        for summary in open_orders:
            if summary.id in self._refused or summary.id in self._known:
                continue
            if await self._store.orders.known(summary.id):
                self._known.add(summary.id)
                continue
            new.append(summary.id)
        added = 0
        for result in await self._watchlist.add_many(new, self._chat_id, None, None):
            if result.outcome is Outcome.REFUSED_BY_BYBIT and not result.transient:
                self._refused.add(result.order_id)  # logged by the watchlist; not asked again until a restart
            elif result.outcome is Outcome.ADDED:
                added += 1
                self._known.add(result.order_id)
                log.info("order %s: new, watched by itself (AUTO_WATCH)", result.order_id)
        self._known &= {summary.id for summary in open_orders}
        return added
