"""The open orders as last listed, each with when it was read: what a new watch may be made from, no detail read."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable

from bridge.bybit import OrderSummary


class Listing:
    """Each open order the open-order list showed within ``fresh`` seconds, as that read showed it.

    The list's reader tells it of every read (:meth:`saw`); a watch of a listed order is made from its
    item, its detail read later (the list lacks only the payment terms and your nickname). ``read_all``, set
    by :class:`~bridge.core.openorders.OpenOrders`, reads the whole list anew (for a /watch of more orders
    than the list has pages).
    """

    def __init__(self, fresh: float) -> None:
        self._fresh = fresh
        self._seen: dict[str, tuple[OrderSummary, float]] = {}
        self.pages = 1  # how many pages the list had at the last read
        self.read_at = -float("inf")  # when the last read of the whole list began (monotonic)
        self.read_all: Callable[[float], Awaitable[None]] | None = None
        """Read the whole list unless a read of it began after the given moment (monotonic)."""

    def saw(
        self, orders: Iterable[OrderSummary], began: float, listed: Iterable[OrderSummary], pages: int, *, whole: bool
    ) -> None:
        """A read begun at ``began`` (monotonic) showed ``orders`` (``whole``: the whole list); ``listed``: every
        order on the list now (as its pages last read show it), of ``pages`` pages."""
        for order in orders:
            self._seen[order.id] = (order, began)
        ids, old = {order.id for order in listed}, began - self._fresh
        self._seen = {key: (order, at) for key, (order, at) in self._seen.items() if key in ids and at >= old}
        self.pages = pages
        if whole:
            self.read_at = began

    def fresh(self, order_id: str) -> OrderSummary | None:
        """The order as listed within ``fresh`` seconds, or None."""
        seen = self._seen.get(order_id)
        return seen[0] if seen and time.monotonic() - seen[1] <= self._fresh else None
