"""The order detail of watches made from the open-order list: read after their histories, at low priority.

A watch made from the list item (:meth:`~bridge.bybit.OrderSummary.as_info`) lacks what only
``/v5/p2p/order/info`` says, the payment terms its card shows. Its detail is read once the histories of
such watches are read (or after ``HISTORY_PATIENCE`` for one that keeps failing), when no chat read waits
(or after ``READ_PATIENCE``), outside the budget's urgent reserve; its card is edited then.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bridge.bybit import BybitClient
from bridge.core.hints import after_hinted
from bridge.errors import BybitError
from bridge.store import Store
from bridge.tasks import wait_event

log = logging.getLogger(__name__)

HISTORY_PATIENCE = 60.0  # seconds the details wait for histories still to read before they go anyway
DETAIL_RETRY = 30.0  # seconds before the details are asked again after Bybit would not say
IDLE_WAKE = 60.0  # seconds between two looks when nothing woke the reader (the store wakes it)
READ_PATIENCE = 10.0  # seconds a detail waits at most for chat reads that keep falling due (talk first)


class DetailReads:
    """Completes watches made from the open-order list with their order detail, one read at a time."""

    def __init__(self, store: Store, client: BybitClient, reads_waiting: Callable[[], bool]) -> None:
        self._store = store
        self._client = client
        self._reads_waiting = reads_waiting

    async def run(self) -> None:
        """Forever: read the details of the listed watches whose history is read, then wait to be woken."""
        wakeup = self._store.wakeups.details  # (a listed watch was made, or a history read)
        histories_since: float | None = None  # since when a listed watch's history has been awaited
        while True:
            wakeup.clear()
            listed = await self._store.orders.listed()
            ready = [watch for watch in listed if watch.backfilled]
            if len(ready) == len(listed):
                histories_since = None
            elif histories_since is None:
                histories_since = time.monotonic()
            patience = 0.0 if histories_since is None else histories_since + HISTORY_PATIENCE - time.monotonic()
            if not ready or patience > 0:
                await wait_event(wakeup, patience if patience > 0 else IDLE_WAKE)
                continue
            for watch in ready:
                await after_hinted(self._client, self._reads_waiting, patience=READ_PATIENCE)  # (talk first)
                try:
                    detail = await self._client.order_info(watch.order_id)
                except BybitError as exc:
                    log.warning("order %s: its detail could not be read (%s); asking again later", watch.order_id, exc)
                    await asyncio.sleep(DETAIL_RETRY)
                    break
                if await self._store.orders.add_detail(detail):
                    log.info("order %s: detail read, its card shows the payment terms", watch.order_id)
