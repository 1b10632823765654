"""Which order a session chat message belongs to (pure functions; the session spans every order with one
counterparty, and Bybit's session messages carry no order id)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bridge.bybit import ChatMessage, OrderInfo, SessionMessage
from bridge.bybit.constants import RoleType

SESSION_CLOCK_SLACK = timedelta(minutes=1)  # a message may be stamped a little before its order
SYSTEM_NICKNAME = "SYSTEM"
_BEFORE_EVERYTHING = datetime.min.replace(tzinfo=UTC)

Created = Mapping[str, datetime | None]
"""Order id → when the order was created (None when Bybit did not say)."""


def attribute(sent: datetime, orders: Created) -> str:
    """The newest order created (give or take ``SESSION_CLOCK_SLACK``) before ``sent``; "" if none."""
    candidates = [
        (created or _BEFORE_EVERYTHING, order_id)
        for order_id, created in orders.items()
        if created is None or created <= sent + SESSION_CLOCK_SLACK
    ]
    return max(candidates)[1] if candidates else ""


@dataclass(frozen=True)
class Counterparty:
    """One counterparty's orders: the ones watched (never empty) and every one known to be theirs."""

    watched: Created
    known: Created

    def owner(self, sent: datetime) -> tuple[str, str]:
        """(the likeliest order of all, the watched order that gets the message).

        The likeliest is the newest order created before the message. When that one is watched it
        gets the message; otherwise the newest watched order created before it does, or, for a
        message older than every watched order, the oldest watched order. Never nobody.
        """
        likeliest = attribute(sent, {**self.known, **self.watched})
        if likeliest in self.watched:
            return likeliest, likeliest
        fallback = attribute(sent, self.watched) or min(
            self.watched, key=lambda order_id: (self.watched[order_id] or _BEFORE_EVERYTHING, order_id)
        )
        return likeliest, fallback


def to_chat_message(item: SessionMessage, order: OrderInfo, likeliest: str) -> ChatMessage:
    """A session message of ``order``'s counterparty in the order-scoped shape, about order ``likeliest``.

    The sender is told apart by nickname: SYSTEM, yours, or the counterparty's.
    """
    nickname = item.send_user_nick_name
    user_id, role_type = "", RoleType.USER
    if nickname == SYSTEM_NICKNAME:
        role_type = RoleType.SYSTEM
    elif nickname == order.nick_name:
        user_id = order.user_id
    elif nickname == order.target_nick_name:
        user_id = order.target_user_id
    return ChatMessage(
        id=item.id,
        message=item.content,
        user_id=user_id,
        msg_type=item.msg_type,
        msg_code=item.msg_code,
        create_date=item.create_date,
        content_type=item.content_type,
        order_id=likeliest,
        nick_name=nickname,
        file_name=item.file_name,
        role_type=role_type,
        unreadable=item.unreadable,
    )
