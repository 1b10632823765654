"""Typed models of the Bybit P2P responses the bridge reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator


def _ms_to_datetime(value: object) -> object:
    """Bybit sends times as milliseconds since the epoch, usually as strings."""
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    return value


class _BybitModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True, coerce_numbers_to_str=True, extra="ignore")

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


_KIND_BY_MSG_TYPE = {2: MessageKind.IMAGE, 6: MessageKind.IMAGE, 7: MessageKind.PDF, 8: MessageKind.VIDEO}
_KIND_BY_CONTENT_TYPE = {
    "pic": MessageKind.IMAGE,
    "pdf": MessageKind.PDF,
    "video": MessageKind.VIDEO,
    "SYS_ORDER_CARD": MessageKind.ORDER_CARD,
}
SYSTEM_ROLE_TYPES = frozenset({"sys", "alarm"})
SUPPORT_MSG_TYPES = frozenset({5, 6})


class ChatMessage(_BybitModel):
    """One order chat message, with every field of ``/v5/p2p/order/message/listpage``."""

    id: str
    message: str = ""
    user_id: str = Field("", alias="userId")
    msg_type: int = Field(1, alias="msgType")
    msg_code: int = Field(0, alias="msgCode")
    create_date: AwareDatetime = Field(alias="createDate")
    content_type: str = Field("str", alias="contentType")
    order_id: str = Field("", alias="orderId")
    msg_uuid: str = Field("", alias="msgUuid")
    nick_name: str = Field("", alias="nickName")
    file_name: str = Field("", alias="fileName")
    account_id: str = Field("", alias="accountId")
    is_read: int = Field(0, alias="isRead")
    read: int = 0
    role_type: str = Field("", alias="roleType")
    only_for_customer: int = Field(0, alias="onlyForCustomer")

    _ms = field_validator("create_date", mode="before")(_ms_to_datetime)

    @property
    def kind(self) -> MessageKind:
        """Text, a media kind, or Bybit's machine-readable order card."""
        if self.msg_type == 11:
            return MessageKind.ORDER_CARD
        return _KIND_BY_MSG_TYPE.get(self.msg_type) or _KIND_BY_CONTENT_TYPE.get(self.content_type, MessageKind.TEXT)

    @property
    def is_system(self) -> bool:
        """Sent by Bybit itself (checked before the sender id: system messages may carry yours)."""
        return self.msg_type == 0 or self.role_type in SYSTEM_ROLE_TYPES

    @property
    def is_support(self) -> bool:
        """Sent by Bybit customer support."""
        return self.msg_type in SUPPORT_MSG_TYPES

    @property
    def created_ms(self) -> int:
        """Creation time in milliseconds since the epoch."""
        return int(self.create_date.timestamp() * 1000)


class OrderInfo(_BybitModel):
    """The fields of ``/v5/p2p/order/info`` the bridge uses."""

    id: str
    side: int = 0
    user_id: str = Field("", alias="userId")
    nick_name: str = Field("", alias="nickName")
    target_user_id: str = Field("", alias="targetUserId")
    target_nick_name: str = Field("", alias="targetNickName")
    target_user_mask_id: str = Field("", alias="targetUserMaskId")
    token_id: str = Field("", alias="tokenId")
    currency_id: str = Field("", alias="currencyId")
    price: str = ""
    quantity: str = ""
    amount: str = ""
    payment_type: str = Field("", alias="paymentType")
    status: int = 0
    create_date: AwareDatetime | None = Field(None, alias="createDate")
    transfer_last_seconds: int | None = Field(None, alias="transferLastSeconds")
    payment_term_list: list[dict[str, Any]] = Field(default_factory=list, alias="paymentTermList")

    _ms = field_validator("create_date", mode="before")(_ms_to_datetime)

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


class OrderSummary(_BybitModel):
    """One item of ``/v5/p2p/order/pending/simplifyList``: enough to tell a counterparty's orders apart."""

    id: str
    target_user_id: str = Field("", alias="targetUserId")
    status: int = 0
    create_date: AwareDatetime | None = Field(None, alias="createDate")

    _ms = field_validator("create_date", mode="before")(_ms_to_datetime)


class SessionMessage(_BybitModel):
    """One message of the session-based chat API (``listpage_v1``), ``message`` decoded."""

    id: str
    send_user_nick_name: str = Field("", alias="sendUserNickName")
    content_type: str = Field("str", alias="contentType")
    create_date: AwareDatetime = Field(alias="createDate")
    content: str = ""
    msg_type: int = 1
    msg_code: int = 0
    file_name: str = ""

    _ms = field_validator("create_date", mode="before")(_ms_to_datetime)

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
            decoded = {"content": raw if isinstance(raw, str) else ""}
        fields = {
            "content": decoded.get("content") or "",
            "msg_type": decoded.get("msgType", 1),
            "msg_code": decoded.get("msgCode", 0),
            "file_name": decoded.get("fileName") or "",
        }
        return {**{k: v for k, v in data.items() if k != "message"}, **fields}
