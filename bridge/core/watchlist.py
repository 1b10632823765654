"""Starting and stopping watches: checks an order with Bybit, then records it in the store."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bridge.bybit import BybitClient, OrderInfo
from bridge.core.hints import after_hinted
from bridge.errors import BybitAuthError, BybitError, BybitUnavailable
from bridge.store import Store

log = logging.getLogger(__name__)

ORDER_ID = re.compile(r"^\d{6,32}$")
INFO_READS_IN_FLIGHT = 4  # order details asked at once, all watches together: enough to spend the read budget


class Outcome(StrEnum):
    """How a /watch or /unwatch request ended."""

    ADDED = "added"
    RESUMED = "resumed"
    ALREADY_HERE = "already_here"
    ELSEWHERE = "elsewhere"
    MALFORMED = "malformed"
    REFUSED_BY_BYBIT = "refused_by_bybit"
    REMOVED = "removed"
    NOT_WATCHED = "not_watched"


@dataclass(frozen=True)
class Result:
    """The outcome for one order id, with Bybit's order detail or reason where there is one."""

    order_id: str
    outcome: Outcome
    info: OrderInfo | None = None
    reason: str = ""
    transient: bool = False  # Bybit could not answer (timeouts, 5xx, its budget): asking again later may work


class Watchlist:
    """The one place that decides whether an order may be watched."""

    def __init__(self, store: Store, client: BybitClient) -> None:
        self._store = store
        self._client = client
        self._in_flight = asyncio.Semaphore(INFO_READS_IN_FLIGHT)
        self.hinted_waiting: Callable[[], bool] = lambda: False
        """Whether a hinted chat (news, a newly watched chat's history) waits for the budget: it goes first."""

    async def add_many(
        self, order_ids: Sequence[str], chat_id: int, thread_id: int | None, user_id: int | None
    ) -> list[Result]:
        """:meth:`add` for each id, their Bybit reads at once: each order is watched as soon as Bybit answered."""
        return list(await asyncio.gather(*(self.add(order_id, chat_id, thread_id, user_id) for order_id in order_ids)))

    async def add(self, order_id: str, chat_id: int, thread_id: int | None, user_id: int | None) -> Result:
        """Validate the id, ask Bybit for the order, and start forwarding it to ``chat_id``."""
        if not ORDER_ID.match(order_id):
            return Result(order_id, Outcome.MALFORMED)
        existing = await self._store.orders.get(order_id)
        if existing and existing.active:
            here = existing.chat_id == chat_id
            return Result(order_id, Outcome.ALREADY_HERE if here else Outcome.ELSEWHERE, existing.info)
        try:
            async with self._in_flight:  # (a few at a time: the first watched are read before the last are asked)
                await after_hinted(self._client, self.hinted_waiting)
                info = await self._client.order_info(order_id)
        except BybitError as exc:
            log.warning("order %s: /watch refused by Bybit: %s", order_id, exc)
            # Bybit's auth errors quote the signed string (with the API key): chat members get the gist only.
            detail = "the bridge's API credentials were refused" if isinstance(exc, BybitAuthError) else exc.message
            return Result(
                order_id,
                Outcome.REFUSED_BY_BYBIT,
                reason=f"{detail} (code {exc.code})",
                transient=isinstance(exc, BybitUnavailable),
            )
        await self._store.orders.watch(info, chat_id, thread_id, user_id)
        log.info("order %s: watched in chat %s", order_id, chat_id)
        return Result(order_id, Outcome.RESUMED if existing else Outcome.ADDED, info)

    async def remove(self, order_id: str, chat_id: int) -> Result:
        """Stop forwarding an order watched in ``chat_id``."""
        if not ORDER_ID.match(order_id):
            return Result(order_id, Outcome.MALFORMED)
        existing = await self._store.orders.get(order_id)
        if existing is None or not existing.active or existing.chat_id != chat_id:
            return Result(order_id, Outcome.NOT_WATCHED)
        await self._store.orders.unwatch(order_id)
        log.info("order %s: unwatched in chat %s", order_id, chat_id)
        return Result(order_id, Outcome.REMOVED, existing.info)
