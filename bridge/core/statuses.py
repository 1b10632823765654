"""Each watched order's status: noticed when it changes, told in its chat, and the order retired once finished.

Status reads share Bybit's budget with chat reads, so they are spent where a change is likely: the
open-order list (read by the poller anyway) carries every open order's status; an order that leaves
that list, or whose chat shows a Bybit system message, is read at once; any other is read every
``recheck`` seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime

from bridge.bybit import BybitClient, ChatMessage, MsgType, OrderInfo, OrderStatus, OrderSummary, RoleType
from bridge.store import ALERT_ID_PREFIX, Store, Watch

log = logging.getLogger(__name__)

STATUS_RECHECK = 300.0  # seconds between two reads of a quiet order's status


def alert(info: OrderInfo) -> ChatMessage:
    """The message that tells the order's chat its new status (delivered like Bybit's own system messages)."""
    now = datetime.now(tz=UTC)
    return ChatMessage(
        id=f"{ALERT_ID_PREFIX}{info.id}-{info.status}-{int(now.timestamp() * 1000)}",
        message=f"🔔 Order status: {OrderStatus.describe(info.status)}",
        msg_type=MsgType.SYSTEM,
        role_type=RoleType.SYSTEM,
        create_date=now,
        order_id=info.id,
    )


class StatusTracker:
    """Notices status changes of watched orders and retires finished ones after ``grace`` seconds."""

    def __init__(self, store: Store, client: BybitClient, *, grace: float, recheck: float = STATUS_RECHECK) -> None:
        self._store = store
        self._client = client
        self._grace = grace
        self._recheck = recheck
        self._checked: dict[str, float] = {}
        self._listed: set[str] = set()

    async def round(
        self, watches: Sequence[Watch], open_orders: Sequence[OrderSummary] | None, hinted: Collection[str]
    ) -> None:
        """One look at every watched order that is not finished."""
        listed = {order.id: order for order in open_orders} if open_orders is not None else None
        now = time.monotonic()
        for watch in watches:
            if watch.finished_at is not None:
                continue
            summary = listed.get(watch.order_id) if listed is not None else None
            if summary is not None and watch.order_id not in hinted:
                if summary.status != watch.info.status:
                    await self._changed(watch, watch.info.model_copy(update={"status": summary.status}))
                continue
            left_list = listed is not None and watch.order_id in self._listed
            checked = self._checked.get(watch.order_id)
            due = checked is None or now - checked >= self._recheck  # never seen listed: it may have just left
            if left_list or watch.order_id in hinted or due:
                self._checked[watch.order_id] = now
                info = await self._client.order_info(watch.order_id)
                if info.status != watch.info.status or _final(info.status):
                    await self._changed(watch, info)
        if listed is not None:
            self._listed = {w.order_id for w in watches} & set(listed)
        self._checked = {
            watch.order_id: self._checked[watch.order_id] for watch in watches if watch.order_id in self._checked
        }

    async def retire(self, read_at: Mapping[str, float]) -> list[str]:
        """Stop watching the orders finished ``grace`` seconds ago, read once more since and all delivered.

        ``read_at``: when the last successful read of each order's chat started (epoch seconds). Returns
        the finished orders to read once more before they are retired.
        """
        retirement = await self._store.orders.retire_finished(self._grace, read_at)
        for order_id in retirement.retired:
            log.info("order %s: finished %.0f s ago, read to the end: no longer watched", order_id, self._grace)
        return retirement.unread

    async def _changed(self, watch: Watch, info: OrderInfo) -> None:
        """Keep the new detail and, for a change a merchant must hear of, its alert, in one transaction.

        A status this version does not know is told too ("status N"): it may matter, and nothing says it does not.
        """
        status = OrderStatus.of(info.status)
        changed = info.status != watch.info.status
        if changed:
            log.info("order %s: status %s → %s", watch.order_id, watch.info.status, OrderStatus.describe(info.status))
        told = changed and (status is None or status.alert)
        await self._store.orders.update_info(info, finished=_final(info.status), alert=alert(info) if told else None)


def _final(code: int) -> bool:
    """Whether a status code means nothing more will happen to the order (an unknown code does not)."""
    status = OrderStatus.of(code)
    return status is not None and status.final
