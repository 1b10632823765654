"""Bybit's P2P API values as enums in one place: return codes, message and content types, order statuses.

From Bybit's docs (``docs/p2p/…``) and what third-party clients report seeing live; the sandbox's fake
Bybit keeps its own copies on purpose, and a test checks that the two agree.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

__all__ = ["ContentType", "MsgType", "OrderStatus", "RetCode", "RoleType"]


class RetCode(IntEnum):
    """``ret_code`` / ``retCode`` values the bridge acts on."""

    OK = 0
    PARAMS = 10001
    TIMESTAMP = 10002  # timestamp outside recv_window: re-sync the clock
    API_KEY = 10003
    SIGNATURE = 10004
    PERMISSION = 10005
    RATE_LIMIT = 10006  # wait for X-Bapi-Limit-Reset-Timestamp
    IP_NOT_WHITELISTED = 10010
    CHAT_API_CLOSED = 912200387  # the order-scoped chat is retired: use the session chat

    @classmethod
    def auth(cls) -> frozenset[RetCode]:
        """Codes that mean the credentials (or their whitelist) were refused: never retried."""
        return frozenset({cls.API_KEY, cls.SIGNATURE, cls.PERMISSION, cls.IP_NOT_WHITELISTED})


class MsgType(IntEnum):
    """A chat message's ``msgType``."""

    SYSTEM = 0
    TEXT = 1
    IMAGE = 2
    SUPPORT_TEXT = 5
    SUPPORT_IMAGE = 6
    PDF = 7
    VIDEO = 8
    ORDER_CARD = 11  # seen live, undocumented: a machine-readable order card
    ALARM = 103  # seen live, undocumented: a warning in HTML, roleType "alarm"


class ContentType(StrEnum):
    """A chat message's ``contentType``."""

    TEXT = "str"
    PICTURE = "pic"
    PDF = "pdf"
    VIDEO = "video"
    ORDER_CARD = "SYS_ORDER_CARD"


class RoleType(StrEnum):
    """A chat message's ``roleType``."""

    SYSTEM = "sys"
    ALARM = "alarm"
    USER = "user"


class OrderStatus(IntEnum):
    """An order's ``status``."""

    WAITING_FOR_CHAIN = 5
    WAITING_FOR_PAYMENT = 10
    WAITING_FOR_RELEASE = 20
    APPEALING = 30
    CANCELLED = 40
    COMPLETED = 50
    PAYING = 60
    PAYMENT_FAILED = 70
    CANCELLED_BY_EXCEPTION = 80
    WAITING_FOR_TOKEN_CHOICE = 90
    OBJECTING = 100
    WAITING_FOR_OBJECTION = 110

    @classmethod
    def of(cls, code: int) -> OrderStatus | None:
        """The status a code stands for; None for a code this version does not know."""
        try:
            return cls(code)
        except ValueError:
            return None

    @classmethod
    def describe(cls, code: int) -> str:
        """A status code in words (an unknown one by its number)."""
        known = cls.of(code)
        return known.description if known is not None else f"status {code}"

    @property
    def final(self) -> bool:
        """Cancelled or completed: nothing more will happen to the order."""
        return self in (OrderStatus.CANCELLED, OrderStatus.COMPLETED, OrderStatus.CANCELLED_BY_EXCEPTION)

    @property
    def alert(self) -> bool:
        """A change a merchant must hear of at once: paid, appeal or objection, completed, cancelled."""
        return self in _ALERTS

    @property
    def description(self) -> str:
        """The status in words, for the order card and alerts."""
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    OrderStatus.WAITING_FOR_CHAIN: "waiting for the chain",
    OrderStatus.WAITING_FOR_PAYMENT: "waiting for the buyer to pay",
    OrderStatus.WAITING_FOR_RELEASE: "paid: waiting for the seller to release",
    OrderStatus.APPEALING: "under appeal",
    OrderStatus.CANCELLED: "cancelled",
    OrderStatus.COMPLETED: "completed",
    OrderStatus.PAYING: "payment in progress",
    OrderStatus.PAYMENT_FAILED: "payment failed",
    OrderStatus.CANCELLED_BY_EXCEPTION: "cancelled (exception)",
    OrderStatus.WAITING_FOR_TOKEN_CHOICE: "waiting for the buyer to pick a token",
    OrderStatus.OBJECTING: "objection raised",
    OrderStatus.WAITING_FOR_OBJECTION: "waiting for an objection",
}
_ALERTS = frozenset(
    {
        OrderStatus.WAITING_FOR_RELEASE,
        OrderStatus.APPEALING,
        OrderStatus.OBJECTING,
        OrderStatus.COMPLETED,
        OrderStatus.CANCELLED,
        OrderStatus.CANCELLED_BY_EXCEPTION,
    }
)
