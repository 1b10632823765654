"""Typed models of the Bybit P2P responses the bridge reads, tolerant of what Bybit really sends.

Bybit's payloads drift from its docs: numbers come as strings, empty strings stand for "none",
``msgType`` may be ``""``, an order card's content may be a JSON object. Every field here accepts
those forms; a chat item that still cannot be read becomes an *unreadable* placeholder (see
:func:`parse_items`) so it never blocks its page.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from bridge.bybit.constants import ContentType, MsgType, RoleType

log = logging.getLogger(__name__)

UNREADABLE_TEXT_CHARS = 2000  # characters of a raw payload kept for a message the bridge could not read


def _ms_to_datetime(value: object) -> object:
    """Bybit sends times as milliseconds since the epoch, usually as strings; "" means none.

    A time no datetime can hold (year 10000, NaN, 1e300) is left as it came, for validation to refuse.
    """
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        if isinstance(value, str) and value.isdigit():
            return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    return value


def _int_or_none(value: object) -> int | None:
    """An integer sent as a number or a numeric string; anything else (``""``, null, words) is None."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
    return None


def _int_or_zero(value: object) -> int:
    found = _int_or_none(value)
    return 0 if found is None else found


def _text(value: object) -> str:
    """Text as given; a JSON object or list (an order card's content) as its JSON; null as ""."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


MaybeInt = Annotated[int | None, BeforeValidator(_int_or_none)]
"""An integer Bybit may send as a string, as "" or not at all (None)."""
LooseInt = Annotated[int, BeforeValidator(_int_or_zero)]
"""An integer Bybit may send as a string; "" or nonsense count as 0."""
Text = Annotated[str, BeforeValidator(_text)]
"""Text that may arrive as a number, null or a JSON object."""
Moment = Annotated[AwareDatetime, BeforeValidator(_ms_to_datetime)]
MaybeMoment = Annotated[AwareDatetime | None, BeforeValidator(_ms_to_datetime)]


class _BybitModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        """Bybit sends ``null`` for absent fields; let the defaults apply instead."""
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


class MessageKind(StrEnum):
    """What a chat message carries, decided from ``msgType`` and ``contentType``."""

    TEXT = "text"
    IMAGE = "image"
    PDF = "pdf"
    VIDEO = "video"
    ORDER_CARD = "order_card"
    UNREADABLE = "unreadable"


_KIND_BY_MSG_TYPE: dict[int, MessageKind] = {
    MsgType.IMAGE: MessageKind.IMAGE,
    MsgType.SUPPORT_IMAGE: MessageKind.IMAGE,
    MsgType.PDF: MessageKind.PDF,
    MsgType.VIDEO: MessageKind.VIDEO,
    MsgType.ORDER_CARD: MessageKind.ORDER_CARD,
}
_KIND_BY_CONTENT_TYPE: dict[str, MessageKind] = {
    ContentType.PICTURE: MessageKind.IMAGE,
    ContentType.PDF: MessageKind.PDF,
    ContentType.VIDEO: MessageKind.VIDEO,
    ContentType.ORDER_CARD: MessageKind.ORDER_CARD,
}
SYSTEM_ROLE_TYPES = frozenset({RoleType.SYSTEM, RoleType.ALARM})
SUPPORT_MSG_TYPES = frozenset({MsgType.SUPPORT_TEXT, MsgType.SUPPORT_IMAGE})


class ChatItem(_BybitModel):
    """What both chat APIs' messages share: an id, a time, and a placeholder form."""

    TEXT_FIELD: ClassVar[str]
    """The field holding the message text, where a placeholder keeps the raw payload."""

    id: Text
    create_date: Moment = Field(alias="createDate")
    unreadable: bool = False


class ChatMessage(ChatItem):
    """One order chat message, with every field of ``/v5/p2p/order/message/listpage``."""

    TEXT_FIELD: ClassVar[str] = "message"

    message: Text = ""
    user_id: Text = Field("", alias="userId")
    msg_type: MaybeInt = Field(None, alias="msgType")
    msg_code: MaybeInt = Field(None, alias="msgCode")
    content_type: Text = Field(ContentType.TEXT, alias="contentType")
    order_id: Text = Field("", alias="orderId")
    msg_uuid: Text = Field("", alias="msgUuid")
    nick_name: Text = Field("", alias="nickName")
    file_name: Text = Field("", alias="fileName")
    account_id: Text = Field("", alias="accountId")
    is_read: MaybeInt = Field(None, alias="isRead")
    read: MaybeInt = None
    role_type: Text = Field("", alias="roleType")
    only_for_customer: MaybeInt = Field(None, alias="onlyForCustomer")

    @property
    def kind(self) -> MessageKind:
        """Text, a media kind, Bybit's machine-readable order card, or unreadable."""
        if self.unreadable:
            return MessageKind.UNREADABLE
        by_type = _KIND_BY_MSG_TYPE.get(self.msg_type) if self.msg_type is not None else None
        return by_type or _KIND_BY_CONTENT_TYPE.get(self.content_type, MessageKind.TEXT)

    @property
    def is_system(self) -> bool:
        """Sent by Bybit itself (checked before the sender id: system messages may carry yours)."""
        return self.msg_type == MsgType.SYSTEM or self.role_type in SYSTEM_ROLE_TYPES

    @property
    def is_support(self) -> bool:
        """Sent by Bybit customer support."""
        return self.msg_type in SUPPORT_MSG_TYPES

    @property
    def created_ms(self) -> int:
        """Creation time in milliseconds since the epoch."""
        return int(self.create_date.timestamp() * 1000)


class SessionMessage(ChatItem):
    """One message of the session-based chat API (``listpage_v1``), ``message`` decoded."""

    TEXT_FIELD: ClassVar[str] = "content"

    send_user_nick_name: Text = Field("", alias="sendUserNickName")
    content_type: Text = Field(ContentType.TEXT, alias="contentType")
    content: Text = ""
    msg_type: MaybeInt = None
    msg_code: MaybeInt = None
    file_name: Text = ""

    @model_validator(mode="before")
    @classmethod
    def _decode_message(cls, data: Any) -> Any:
        """``message`` is a JSON string of ``{content, msgType, msgCode, fileName, size}``."""
        if not isinstance(data, dict) or "message" not in data:
            return data
        raw = data["message"]
        try:
            decoded = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            decoded = None
        if not isinstance(decoded, dict):
            decoded = {"content": raw}
        fields = {
            "content": decoded.get("content"),
            "msg_type": decoded.get("msgType"),
            "msg_code": decoded.get("msgCode"),
            "file_name": decoded.get("fileName"),
        }
        rest = {k: v for k, v in data.items() if k != "message"}
        return rest | {k: v for k, v in fields.items() if v is not None}


class OrderInfo(_BybitModel):
    """The fields of ``/v5/p2p/order/info`` the bridge uses."""

    id: Text
    side: LooseInt = 0
    user_id: Text = Field("", alias="userId")
    nick_name: Text = Field("", alias="nickName")
    target_user_id: Text = Field("", alias="targetUserId")
    target_nick_name: Text = Field("", alias="targetNickName")
    target_user_mask_id: Text = Field("", alias="targetUserMaskId")
    token_id: Text = Field("", alias="tokenId")
    currency_id: Text = Field("", alias="currencyId")
    price: Text = ""
    quantity: Text = ""
    amount: Text = ""
    payment_type: Text = Field("", alias="paymentType")
    status: LooseInt = 0
    create_date: MaybeMoment = Field(None, alias="createDate")
    transfer_last_seconds: MaybeInt = Field(None, alias="transferLastSeconds")
    payment_term_list: list[dict[str, Any]] = Field(default_factory=list, alias="paymentTermList")
    listed: bool = Field(False, alias="bridgeListed")
    """Made by the bridge from the open-order list: what only the order detail says (payment terms) is to come."""

    @model_validator(mode="before")
    @classmethod
    def _terms_as_list(cls, data: Any) -> Any:
        """A payment term list that is not a list of objects (``""``, null) counts as empty."""
        if isinstance(data, dict) and "paymentTermList" in data:
            terms = data["paymentTermList"]
            kept = [term for term in terms if isinstance(term, dict)] if isinstance(terms, list) else []
            return data | {"paymentTermList": kept}
        return data

    @property
    def you_sell(self) -> bool:
        """Whether you are the seller (side 1), so the counterparty is the buyer."""
        return self.side == 1

    @property
    def counterparty_role(self) -> str:
        """``buyer`` or ``seller``: the counterparty's part in this order."""
        return "buyer" if self.you_sell else "seller"

    @property
    def your_role(self) -> str:
        """``buyer`` or ``seller``: your part in this order."""
        return "seller" if self.you_sell else "buyer"

    def detailed(self, detail: OrderInfo) -> OrderInfo:
        """This order, listed, with what only its detail says: payment terms, your nickname, the exact quantity.

        Its status stays: the status checks keep it (a detail read earlier must not undo a change seen since).
        """
        fields = ("payment_term_list", "payment_type", "nick_name", "quantity")
        return self.model_copy(update={name: getattr(detail, name) for name in fields} | {"listed": False})


class OrderSummary(_BybitModel):
    """One item of ``/v5/p2p/order/pending/simplifyList``: most of the order detail, without the payment terms."""

    id: Text
    side: LooseInt = 0
    user_id: Text = Field("", alias="userId")
    target_user_id: Text = Field("", alias="targetUserId")
    target_nick_name: Text = Field("", alias="targetNickName")
    target_user_mask_id: Text = Field("", alias="targetUserMaskId")
    token_id: Text = Field("", alias="tokenId")
    currency_id: Text = Field("", alias="currencyId")
    price: Text = ""
    amount: Text = ""
    notify_token_id: Text = Field("", alias="notifyTokenId")
    notify_token_quantity: Text = Field("", alias="notifyTokenQuantity")
    status: LooseInt = 0
    create_date: MaybeMoment = Field(None, alias="createDate")
    transfer_last_seconds: MaybeInt = Field(None, alias="transferLastSeconds")
    unread: MaybeInt = Field(None, alias="selfUnreadMsgCount")
    """Messages you have not read (a hint only: reading in the Bybit app clears it); None when absent."""

    def as_info(self, nick_name: str) -> OrderInfo | None:
        """The order detail this item gives, with ``nick_name`` (yours); None when it lacks what a watch needs.

        A watch needs both parties' ids and names (to tell your messages from theirs) and the counterparty's
        mask id (the session chat's key); the quantity is the notified one only when it counts the order's token.
        """
        needed = (self.user_id, nick_name, self.target_user_id, self.target_nick_name, self.target_user_mask_id)
        if not all(needed) or self.create_date is None or self.notify_token_id != self.token_id:
            return None
        return OrderInfo(
            id=self.id,
            side=self.side,
            user_id=self.user_id,
            nick_name=nick_name,
            target_user_id=self.target_user_id,
            target_nick_name=self.target_nick_name,
            target_user_mask_id=self.target_user_mask_id,
            token_id=self.token_id,
            currency_id=self.currency_id,
            price=self.price,
            quantity=self.notify_token_quantity,
            amount=self.amount,
            status=self.status,
            create_date=self.create_date,
            transfer_last_seconds=self.transfer_last_seconds,
            listed=True,
        )


class Account(_BybitModel):
    """The fields of ``/v5/p2p/user/personal/info`` the bridge uses: who you are."""

    user_id: Text = Field("", alias="userId")
    nick_name: Text = Field("", alias="nickName")


class SessionSummary(_BybitModel):
    """One item of ``/v5/p2p/chat/session/list_v1``: a chat session and how many of its messages are unread."""

    id: Text
    session_id: Text = Field("", alias="sessionId")
    session_name: Text = Field("", alias="sessionName")
    unread: MaybeInt = Field(None, alias="unreadCount")
    """Messages you have not read (a hint only); None when Bybit left the count out."""

    @property
    def cursor(self) -> int:
        """Its place in the list, as the next page's ``lastId`` (0 when Bybit gave none)."""
        return int(self.id) if self.id.isdigit() else 0


Item = TypeVar("Item", bound=ChatItem)


def parse_items(model: type[Item], items: Iterable[object], where: str) -> list[Item]:
    """Validate every chat item; one that cannot be read becomes an unreadable placeholder, logged once."""
    parsed: list[Item] = []
    for item in items:
        try:
            parsed.append(model.model_validate(item))
        except ValidationError as exc:
            placeholder = _placeholder(model, item)
            log.warning(
                "%s: message %s could not be read (%d problem(s), first: %s); forwarding it as raw text",
                where,
                placeholder.id,
                exc.error_count(),
                exc.errors()[0]["msg"],
            )
            parsed.append(placeholder)
    return parsed


def _placeholder(model: type[Item], item: object) -> Item:
    """An item keeping whatever id and time it has, and its raw payload as text."""
    raw = json.dumps(item, ensure_ascii=False, default=str, sort_keys=True)
    fields = item if isinstance(item, dict) else {}
    given_id = fields.get("id")
    if isinstance(given_id, int | str) and not isinstance(given_id, bool) and str(given_id).strip():
        msg_id = str(given_id).strip()
    else:
        msg_id = "raw-" + hashlib.sha256(raw.encode()).hexdigest()[:20]
    created = _ms_to_datetime(fields.get("createDate"))
    if not isinstance(created, datetime):
        created = datetime.now(tz=UTC)
    return model.model_validate(
        {"id": msg_id, "createDate": created, model.TEXT_FIELD: raw[:UNREADABLE_TEXT_CHARS], "unreadable": True}
    )
