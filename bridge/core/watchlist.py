"""Starting and stopping watches: checks an order with Bybit, then records it in the store."""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bridge.bybit import URGENT_READS, BybitClient, OrderInfo
from bridge.core.hints import after_hinted
from bridge.core.listing import Listing
from bridge.errors import BybitAuthError, BybitError, BybitUnavailable
from bridge.store import Store

log = logging.getLogger(__name__)

ORDER_ID = re.compile(r"^\d{6,32}$")
INFO_READS_IN_FLIGHT = 4  # order details asked at once, all watches together: enough to spend the read budget
ACCOUNT_RETRY = 60.0  # seconds before your nickname is asked again after Bybit would not say


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

    def __init__(self, store: Store, client: BybitClient, listing: Listing) -> None:
        self._store = store
        self._client = client
        self._listing = listing
        self._in_flight = asyncio.Semaphore(INFO_READS_IN_FLIGHT)
        self._nick_name = ""  # yours, from the last order detail read (or asked once): what a listed order lacks
        self._nick_lock = asyncio.Lock()
        self._nick_refused = -math.inf  # when Bybit last would not say it
        self.hinted_waiting: Callable[[], bool] = lambda: False
        """Whether a hinted chat (news, a newly watched chat's history) waits for the budget: it goes first."""

    async def add_many(
        self,
        order_ids: Sequence[str],
        chat_id: int,
        thread_id: int | None,
        user_id: int | None,
        *,
        list_first: bool = False,
    ) -> list[Result]:
        """:meth:`add` for each id, their Bybit reads at once: each order is watched as soon as Bybit answered.

        ``list_first``: when more of them are not freshly listed than the open-order list has pages, the list is
        read first (a page tells 30 orders; an order detail one).
        """
        unlisted = sum(1 for order_id in order_ids if self._listing.fresh(order_id) is None)
        if list_first and self._listing.read_all is not None and unlisted > self._listing.pages:
            urgent = URGENT_READS.set(True)  # (the command waits for it)
            try:
                await self._listing.read_all(time.monotonic())
            finally:
                URGENT_READS.reset(urgent)
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
            info = await self._listed(order_id) or await self._detail(order_id)
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

    async def _listed(self, order_id: str) -> OrderInfo | None:
        """The order as the open-order list showed it lately, with your nickname (its detail is read later)."""
        summary = self._listing.fresh(order_id)
        return summary.as_info(await self._own_nick()) if summary is not None else None

    async def _detail(self, order_id: str) -> OrderInfo:
        async with self._in_flight:  # (a few at a time: the first watched are read before the last are asked)
            await after_hinted(self._client, self.hinted_waiting)
            info = await self._client.order_info(order_id)
        self._nick_name = info.nick_name or self._nick_name
        return info

    async def _own_nick(self) -> str:
        """Your nickname: from the last order detail read, else asked of Bybit once; "" when it would not say."""
        async with self._nick_lock:
            if not self._nick_name and time.monotonic() - self._nick_refused >= ACCOUNT_RETRY:
                try:
                    self._nick_name = (await self._client.account()).nick_name
                except BybitError as exc:
                    self._nick_refused = time.monotonic()
                    log.warning("Bybit would not tell your nickname (%s): orders are watched from their detail", exc)
            return self._nick_name

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
