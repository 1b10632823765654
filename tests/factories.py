"""Builders of Bybit payloads for unit tests (plain dicts in Bybit's own field names)."""

from __future__ import annotations

from typing import Any

from bridge.bybit import ChatMessage, OrderInfo

SELF_ID = "10001"
BUYER_ID = "20002"


def order(**overrides: Any) -> OrderInfo:
    data: dict[str, Any] = {
        "id": "1898976123321221120",
        "side": 1,
        "userId": SELF_ID,
        "nickName": "TeamMerchant",
        "targetUserId": BUYER_ID,
        "targetNickName": "BuyerBob",
        "targetUserMaskId": "mask-bob",
        "tokenId": "USDT",
        "currencyId": "RUB",
        "price": "92.5",
        "quantity": "100",
        "amount": "9250",
        "status": 10,
        "createDate": "1741765000000",
    }
    data.update(overrides)
    return OrderInfo.model_validate(data)


def message(text: str = "hello", **overrides: Any) -> ChatMessage:
    data: dict[str, Any] = {
        "id": "1900000000000000001",
        "message": text,
        "userId": BUYER_ID,
        "msgType": 1,
        "msgCode": 0,
        "createDate": "1741765371720",
        "contentType": "str",
        "orderId": "1898976123321221120",
        "msgUuid": "",
        "nickName": "BuyerBob",
        "fileName": "",
        "accountId": "1",
        "isRead": 0,
        "read": 0,
        "roleType": "user",
        "onlyForCustomer": 0,
    }
    data.update(overrides)
    return ChatMessage.model_validate(data)
