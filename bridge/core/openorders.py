"""The open-order list (``order/pending/simplifyList``): the open orders as its pages last showed them.

New orders come first on it, so the poller reads its first page often; its other pages are read here, in turn:
at the hints' pace while its unread counts are the hints (on the order API), else at ``LIST_SHARE`` of the
budget, so a long list never takes the budget in a burst.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from bridge.bybit import URGENT_READS, BybitClient, OrderSummary
from bridge.core.failures import Failures
from bridge.core.hints import Hints
from bridge.core.listing import Listing

LIST_SHARE = 0.02  # the share of the read budget its other pages take, one at a time, unless its counts are the hints
OPEN_ORDERS = "open orders"  # its name in the failures

Seen = Callable[[Sequence[OrderSummary], float, Sequence[OrderSummary]], Awaitable[None]]
"""Told of each read: the orders it showed, when it was asked for (monotonic), and the whole list before it."""


class OpenOrders:
    """The open orders, newest first, as the list's pages were last read; each read is told to ``seen``.

    ``active`` says whether the list is followed now (orders are watched, or may be); ``hinting`` whether its
    unread counts are the hints; ``hinted_waiting`` whether a hinted chat waits only for the budget (it goes
    before the next page read at the hints' pace).
    """

    def __init__(
        self,
        client: BybitClient,
        listing: Listing,
        failures: Failures,
        hints: Hints,
        *,
        seen: Seen,
        active: Callable[[], bool],
        hinting: Callable[[], bool],
        hinted_waiting: Callable[[], bool],
    ) -> None:
        self._client = client
        self._listing = listing
        self._failures = failures
        self._hints = hints
        self._seen = seen
        self._active = active
        self._hinting = hinting
        self._hinted_waiting = hinted_waiting
        listing.read_all = self.read_whole
        self.orders: list[OrderSummary] | None = None  # None: not read yet
        self.by_user: dict[str, dict[str, datetime | None]] = {}  # …by counterparty: order id → when made
        self.since = datetime.min.replace(tzinfo=UTC)  # when the last read of its first page began
        self._pages: list[list[OrderSummary]] = []  # …as the pages they were read in
        self._next_page: int | None = None  # the other page read next (None: the list has one page)
        self._lock = asyncio.Lock()

    async def read_first(self) -> None:
        """Read the first page (the whole list the first time: statuses and message owners need all of it)."""
        async with self._lock:
            await self._read(None if self.orders is None else 1)

    async def read_once(self) -> None:
        """Read the whole list unless it was read already (one read, however many wait for it)."""
        if self.orders is None:
            async with self._lock:
                if self.orders is None:
                    await self._read()

    async def read_whole(self, since: float) -> None:
        """Read the whole list, unless a read of it began after ``since`` (monotonic)."""
        async with self._lock:
            if self._listing.read_at < since:
                await self._read()

    async def read_since(self, moment: datetime) -> None:
        """Read the first page anew, unless a read of it began after ``moment``."""
        async with self._lock:
            if self.since < moment:
                await self._read(1)

    async def follow_pages(self) -> None:
        """Read the other pages in turn, forever: a page per share of the budget, hinted chats first while its counts
        are the hints (after a failed read, at ``LIST_SHARE``)."""
        URGENT_READS.set(True)  # new orders, statuses and unread counts are news too; this task paces itself
        while True:
            asked, read = time.monotonic(), True
            if self._active() and self._next_page is not None:
                async with self._lock:
                    if self._next_page is not None:  # (a read of the first page may have found one page left)
                        read = await self._read(self._next_page)
            if read and self._hinting():
                await self._hints.pace(self._client, asked, self._hinted_waiting)
            else:
                await asyncio.sleep(asked + 1 / (LIST_SHARE * self._client.reads_per_second) - time.monotonic())

    async def _read(self, page: int | None = None) -> bool:
        """Read one page (or all of them), then tell ``seen``; False when Bybit would not say."""
        started, asked = datetime.now(tz=UTC), time.monotonic()
        try:
            if page is None:
                pages = await self._client.pending_order_pages()
                orders, count = merged(pages), len(pages)
            else:
                orders, count = await self._client.pending_orders_page(page)
                pages = [*self._pages[: page - 1], orders, *self._pages[page:count]]
        except Exception as exc:
            self._failures.report(OPEN_ORDERS, exc)
            return False
        self._failures.recovered(OPEN_ORDERS)
        before = self.orders or []
        self._pages, self.orders = pages, merged(pages)
        self._listing.saw(orders, asked, self.orders, count, whole=page is None)
        self.by_user = by_counterparty(self.orders)
        if page in (None, 1):  # (new orders come first on the list)
            self.since = started
        turn = (self._next_page or 2) if page == 1 else (page or 1) + 1  # on down the list, back to page 2 past its end
        self._next_page = turn if 2 <= turn <= min(count, len(pages) + 1) else 2 if count > 1 else None
        await self._seen(orders, asked, before)
        return True


def by_counterparty(orders: Sequence[OrderSummary]) -> dict[str, dict[str, datetime | None]]:
    """Each counterparty's orders among ``orders``: order id → when it was made (once per list read, not per chat)."""
    found: dict[str, dict[str, datetime | None]] = {}
    for order in orders:
        found.setdefault(order.target_user_id, {})[order.id] = order.create_date
    return found


def merged(pages: Sequence[Sequence[OrderSummary]]) -> list[OrderSummary]:
    """The orders of list pages read at different times, each once (where it is listed first)."""
    orders: dict[str, OrderSummary] = {}
    for page in pages:
        for order in page:
            orders.setdefault(order.id, order)
    return list(orders.values())
