"""The fake exchange's state: orders, counterparties, the chat log and its unread counts, the clock."""

from __future__ import annotations

import base64
import copy
import hashlib
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bridge.sandbox.fake_bybit._media import _media_name, _MediaStore, _opaque
from bridge.sandbox.fake_bybit._params import _is_digits, _is_int
from bridge.sandbox.fake_bybit.constants import _ALARM_MSG_TYPE, _MSG_TYPE_BY_CONTENT, MediaKind, Retirement, Sender

_ORDER_ID_BASE = 1898976123321221120
_MESSAGE_ID_BASE = 1900000000000000000
_ITEM_ID_BASE = 1800000000000000000
_SESSION_RECORD_BASE = 1994307488961036288
_COUNTERPARTY_ID_BASE = 290000000
_ACCOUNT_ID_BASE = 500000000
_PAYMENT_TYPE_BASE = 370


@dataclass
class FakeOrder:
    """An order on the fake exchange, seen from the self user's side (mutable: tests may change ``status``)."""

    id: str
    side: int
    target_user_id: str
    target_mask_id: str
    target_nick: str
    token: str
    quantity: str
    price: str
    currency: str
    status: int
    payment: str
    payment_type: int
    create_ms: int
    item_id: str

    @property
    def amount(self) -> str:
        """Fiat amount, ``quantity * price`` with two decimals."""
        return f"{Decimal(self.quantity) * Decimal(self.price):.2f}"


@dataclass(frozen=True)
class _User:
    user_id: str
    nick: str
    account_id: str
    mask_id: str
    session_id: str

    @property
    def real_name(self) -> str:
        return f"Real {self.nick}"


@dataclass(frozen=True)
class _StoredMessage:
    """A chat message: made by the fake from an order listpage record, or a raw item served exactly as given.

    ``order_id`` is ``None`` for a raw session item; a raw order item is not shown in sessions.
    """

    number: int  # the numeric message id: sort key and ``lastId`` cursor
    nick: str  # the counterparty whose session holds it
    order_id: str | None
    item: dict[str, Any]
    raw: bool = False
    size: int = 0


def _message_number(item: Mapping[str, Any]) -> int:
    """The numeric id of a raw chat item (a JSON number or a string of digits, as Bybit's ids are)."""
    value = item.get("id")
    if _is_int(value) or _is_digits(value):
        return int(value)
    raise ValueError(f"a raw chat message needs a numeric id, not {value!r}")


class _World:
    """The exchange as the self user sees it: its orders, counterparties, chats and media; the fake's clock."""

    def __init__(self, *, self_user_id: str, self_nick: str) -> None:
        super().__init__()
        self.clock_offset_ms = 0
        """Added to ``time.time()`` to make the fake's clock; positive = our clock is behind Bybit's."""
        self.read_in_app_at_once = False
        """While True the merchant has every chat open in the Bybit app: each message is read the moment it is
        written, so the unread counts never move (Bybit's hints say nothing)."""
        self._self = self._new_user(self_user_id, self_nick)
        self._counterparties: dict[str, _User] = {}
        self._orders: dict[str, FakeOrder] = {}
        self._payment_types: dict[str, int] = {}
        self._log: list[_StoredMessage] = []
        self._unread_by_order: Counter[str] = Counter()
        self._unread_by_nick: Counter[str] = Counter()
        self._media = _MediaStore(self.server_time_ms)
        self._retired: Retirement | None = None
        self._last_create_ms = 0

    def server_time_ms(self) -> int:
        """The fake's clock: ``time.time()`` plus :attr:`clock_offset_ms`, in milliseconds."""
        return time.time_ns() // 1_000_000 + self.clock_offset_ms

    def add_order(
        self,
        order_id: str | None = None,
        *,
        side: int = 1,
        counterparty_nick: str = "BuyerBob",
        token: str = "USDT",
        quantity: str = "100",
        price: str = "92.5",
        currency: str = "RUB",
        status: int = 10,
        payment: str = "Sberbank",
    ) -> FakeOrder:
        """Open an order with ``counterparty_nick`` (one user, mask id and chat session per nick).

        ``payment`` is the payment method's name; Bybit's numeric ``paymentType`` is made up per name.
        """
        number = len(self._orders) + 1
        order_id = order_id or str(_ORDER_ID_BASE + number)
        if order_id in self._orders:
            raise ValueError(f"order {order_id} already exists")
        target = self._counterparties.get(counterparty_nick)
        if target is None:
            user_id = str(_COUNTERPARTY_ID_BASE + len(self._counterparties) + 1)
            target = self._counterparties[counterparty_nick] = self._new_user(user_id, counterparty_nick)
        payment_type = self._payment_types.setdefault(payment, _PAYMENT_TYPE_BASE + len(self._payment_types))
        order = FakeOrder(
            id=order_id,
            side=side,
            target_user_id=target.user_id,
            target_mask_id=target.mask_id,
            target_nick=target.nick,
            token=token,
            quantity=quantity,
            price=price,
            currency=currency,
            status=status,
            payment=payment,
            payment_type=payment_type,
            create_ms=self.server_time_ms(),
            item_id=str(_ITEM_ID_BASE + number),
        )
        self._orders[order_id] = order
        return order

    def post_message(
        self,
        order_id: str,
        text: str,
        *,
        sender: Sender = "counterparty",
        msg_type: int | None = None,
        msg_code: int = 0,
        content_type: str = "str",
        created_ms: int | None = None,
    ) -> dict[str, Any]:
        """Add a chat message to an order and return its listpage record.

        ``msg_type`` defaults to 0 for system messages and 1 otherwise (103 makes a ``roleType`` "alarm"
        warning); ``created_ms`` defaults to the fake's clock, kept strictly increasing.
        """
        return self._store(
            order_id,
            text,
            sender=sender,
            msg_type=msg_type,
            msg_code=msg_code,
            content_type=content_type,
            created_ms=created_ms,
        )

    def post_media(
        self, order_id: str, kind: MediaKind, data: bytes, file_name: str, *, sender: Sender = "counterparty"
    ) -> dict[str, Any]:
        """Store ``data`` and post a message whose text is its signed, 3-hour relative media path.

        Every list call signs the path anew, as Bybit does, so only a link held too long expires.
        """
        name = self._media.keep(kind, data, file_name)
        path = self._media.signed_path(name)
        return self._store(
            order_id,
            path,
            sender=sender,
            msg_type=_MSG_TYPE_BY_CONTENT[kind],
            content_type=kind,
            file_name=file_name,
            size=len(data),
        )

    def post_raw_order_message(self, order_id: str, item: Mapping[str, Any]) -> dict[str, Any]:
        """Put ``item`` (e.g. the docs' example) into an order's chat, served by its listpage exactly as given.

        Its ``id`` (numeric) places it among the order's messages, newest (largest) first. It does not show
        in the counterparty's session, which has its own raw items (:meth:`post_raw_session_message`).
        """
        order = self._known_order(order_id)
        return self._store_raw(order.target_nick, order.id, item)

    def post_raw_session_message(self, counterparty_nick: str, item: Mapping[str, Any]) -> dict[str, Any]:
        """Put ``item`` (e.g. the docs' example) into the session with a counterparty, served exactly as given.

        ``listpage_v1`` orders it by its numeric ``id`` (newest, largest, first) and pages on it with
        ``lastId``. The counterparty must already have an order (:meth:`add_order`).
        """
        if counterparty_nick not in self._counterparties:
            raise KeyError(f"no counterparty {counterparty_nick!r}: add an order with them first")
        return self._store_raw(counterparty_nick, None, item)

    def messages(self, order_id: str) -> list[dict[str, Any]]:
        """An order's chat records (raw ones as given), oldest first."""
        return [copy.deepcopy(stored.item) for stored in self._log if stored.order_id == order_id]

    def media_of(self, record: Mapping[str, Any]) -> tuple[bytes, str] | None:
        """The bytes and file name of the media a chat record (listpage or :meth:`messages`) refers to."""
        media = self._media.get(_media_name(str(record.get("message", ""))))
        return None if media is None else (media.data, media.file_name)

    def read_in_app(self, *, order_id: str | None = None, counterparty_nick: str | None = None) -> int:
        """The merchant opened a chat in the Bybit app: an order's, or a counterparty's whole session.

        The counterparty's messages there become read (``isRead``/``read`` 1), so the unread counts
        (``selfUnreadMsgCount``/``unreadMsgCount`` of the pending list and order detail, ``unreadCount`` of
        ``chat/session/list_v1``) drop; messages posted later are unread again. Returns how many became read.
        Reading a chat through the API marks nothing read: whether Bybit's does is unknown, and the fake
        assumes it does not, so a client cannot rely on it.
        """
        if (order_id is None) == (counterparty_nick is None):
            raise ValueError("name exactly one of order_id and counterparty_nick")
        if order_id is not None:
            self._known_order(order_id)
        elif counterparty_nick not in self._counterparties:
            raise KeyError(f"no counterparty {counterparty_nick!r}")
        opened = [
            stored
            for stored in self._log
            if not stored.raw
            and stored.item["isRead"] == 0
            and (order_id is None or stored.order_id == order_id)
            and (counterparty_nick is None or stored.nick == counterparty_nick)
        ]
        for stored in opened:
            stored.item["isRead"] = stored.item["read"] = 1
            self._unread_by_order[str(stored.order_id)] -= 1
            self._unread_by_nick[stored.nick] -= 1
        return len(opened)

    # -- state helpers -----------------------------------------------------------------------------

    def _new_user(self, user_id: str, nick: str) -> _User:
        """A user with a docs-like mask id (``s`` + 32 hex) and base64 session id (as Bybit's AES ones)."""
        mask_id = "s" + _opaque("mask", user_id)
        session_id = base64.b64encode(hashlib.shake_256(f"session:{mask_id}".encode()).digest(58)).decode()
        account_id = str(_ACCOUNT_ID_BASE + int(user_id))
        return _User(user_id, nick, account_id, mask_id, session_id)

    def _known_order(self, order_id: str) -> FakeOrder:
        order = self._orders.get(order_id)
        if order is None:
            raise KeyError(f"unknown order {order_id}")
        return order

    def _store_raw(self, nick: str, order_id: str | None, item: Mapping[str, Any]) -> dict[str, Any]:
        kept = copy.deepcopy(dict(item))
        self._log.append(_StoredMessage(_message_number(kept), nick, order_id, kept, raw=True))
        return copy.deepcopy(kept)

    def _store(
        self,
        order_id: str,
        content: str,
        *,
        sender: Sender,
        msg_type: int | None,
        content_type: str,
        msg_code: int = 0,
        created_ms: int | None = None,
        file_name: str = "",
        size: int = 0,
        msg_uuid: str | None = None,
    ) -> dict[str, Any]:
        order = self._known_order(order_id)
        number = _MESSAGE_ID_BASE + len(self._log) + 1
        user = self._counterparties[order.target_nick] if sender == "counterparty" else self._self
        if msg_type is None:
            msg_type = 0 if sender == "system" else 1
        role_type = "user"
        if sender == "system":
            role_type = "alarm" if msg_type == _ALARM_MSG_TYPE else "sys"
        if msg_uuid is None:
            msg_uuid = "" if sender == "system" else str(uuid.UUID(int=number - _MESSAGE_ID_BASE))
        if created_ms is None:
            created_ms = max(self.server_time_ms(), self._last_create_ms + 1)
        self._last_create_ms = max(self._last_create_ms, created_ms)
        read = 0 if sender == "counterparty" and not self.read_in_app_at_once else 1
        record: dict[str, Any] = {  # the docs' field order
            "id": str(number),
            "accountId": user.account_id,
            "message": content,
            "msgType": msg_type,
            "msgCode": msg_code,
            "createDate": str(created_ms),
            "isRead": read,
            "contentType": content_type,
            "roleType": role_type,
            "userId": user.user_id,
            "orderId": order.id,
            "msgUuid": msg_uuid,
            "nickName": user.nick,
            "read": read,
            "fileName": file_name,
            "onlyForCustomer": 0,
        }
        self._log.append(_StoredMessage(number, order.target_nick, order.id, record, size=size))
        if not read:
            self._unread_by_order[order.id] += 1
            self._unread_by_nick[order.target_nick] += 1
        return dict(record)

    def _unread(self, *, order_id: str | None = None, nick: str | None = None) -> int:
        """Unread messages (made by the fake) of an order or of a counterparty's session."""
        if order_id is not None:
            return self._unread_by_order[order_id]
        return self._unread_by_nick[str(nick)]
