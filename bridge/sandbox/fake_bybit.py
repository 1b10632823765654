"""A fake Bybit v5 P2P API: signed endpoints, both chat API generations, media links and injected faults.

Tests and the demo drive it through Python methods (:meth:`FakeBybit.add_order`,
:meth:`FakeBybit.post_message`, :meth:`FakeBybit.inject`, …) while the bridge talks to it over HTTP exactly
as it would to ``api.bybit.com``. Signatures are verified with the fake's own HMAC code, never the bridge's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import mimetypes
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any, Final, Literal

from aiohttp import web

from bridge.sandbox._server import LoopbackServer

ListShape = Literal["nested", "bare"]
Sender = Literal["counterparty", "self", "system"]
MediaKind = Literal["pic", "pdf", "video"]
Fault = Literal["rate_limit", "server_error", "hang", "timestamp", "auth"]

CODE_OK: Final = 0
CODE_PARAMS: Final = 10001
CODE_TIMESTAMP: Final = 10002
CODE_API_KEY: Final = 10003
CODE_SIGN: Final = 10004
CODE_RATE_LIMIT: Final = 10006
CODE_ORDER_NOT_FOUND: Final = 912100027
CODE_CHAT_API_CLOSED: Final = 912200387
CODE_SESSION_NOT_FOUND: Final = 912200100  # invented: Bybit does not document this one

MSG_CHAT_API_CLOSED: Final = "chat open api close, pls chat with new open api"
RATE_LIMIT_RESET_HEADER: Final = "X-Bapi-Limit-Reset-Timestamp"
PENDING_STATUSES: Final = frozenset({5, 10, 20, 30, 90, 100, 110})
MEDIA_PATH: Final = "/fiat/p2p/oss/showObj/otc/9001/"
MEDIA_TTL_SECONDS: Final = 3 * 3600
DEFAULT_RECV_WINDOW: Final = 5000
FUTURE_TOLERANCE_MS: Final = 1000
HANG_SECONDS: Final = 300.0
PAY_WINDOW_SECONDS: Final = 15 * 60
MAX_SESSION_MESSAGE_CHARS: Final = 1000

_ORDER_ID_BASE = 1898976123321221120
_MESSAGE_ID_BASE = 1900000000000000000
_ITEM_ID_BASE = 1800000000000000000
_COUNTERPARTY_ID_BASE = 290000000
_ACCOUNT_ID_BASE = 500000000
_MEDIA_KEY = b"sandbox-media-signing-key"
_MSG_TYPE_BY_CONTENT = {"str": 1, "pic": 2, "pdf": 7, "video": 8}
_DEFAULT_MIME = {"pic": "image/png", "pdf": "application/pdf", "video": "video/mp4"}
_ALARM_MSG_TYPE = 103


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
    create_ms: int
    item_id: str

    @property
    def amount(self) -> str:
        """Fiat amount, ``quantity * price`` with two decimals."""
        return f"{Decimal(self.quantity) * Decimal(self.price):.2f}"


@dataclass
class RecordedRequest:
    """One request the fake received; ``status``/``ret_code`` stay ``None`` while it is unanswered (hangs)."""

    method: str
    path: str
    body: Any
    headers: Mapping[str, str]
    time: float
    status: int | None = None
    ret_code: int | None = None


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
    record: dict[str, Any]  # exactly what the order-scoped listpage returns
    size: int


@dataclass(frozen=True)
class _MediaObject:
    data: bytes
    mime_type: str


@dataclass
class _Injected:
    fault: Fault
    remaining: int
    path: str | None
    reset_after_ms: int


@dataclass(frozen=True)
class _Reply:
    status: int = 200
    payload: dict[str, Any] | None = None
    ret_code: int | None = None
    body: bytes = b""
    content_type: str = "text/plain"
    headers: Mapping[str, str] = field(default_factory=dict)

    def response(self) -> web.Response:
        if self.payload is not None:
            return web.json_response(self.payload, status=self.status, headers=self.headers)
        return web.Response(status=self.status, body=self.body, content_type=self.content_type, headers=self.headers)


class _P2PError(Exception):
    """An order-level refusal, answered in the P2P envelope."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _params_error() -> _P2PError:
    return _P2PError(CODE_PARAMS, "params error")


def _opaque(kind: str, value: str) -> str:
    """A deterministic id that looks random, e.g. a mask or session id."""
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:32]


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _int_param(body: Mapping[str, Any], name: str, *, default: int | None = None, high: int | None = None) -> int:
    """A positive integer sent as a number or a numeric string; anything else is a params error."""
    value = body.get(name, default)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (high is not None and value > high):
        raise _params_error()
    return value


def _str_param(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise _params_error()
    return value


def _content_type_param(body: Mapping[str, Any]) -> str:
    content_type = body.get("contentType", "str")
    if content_type not in _MSG_TYPE_BY_CONTENT:
        raise _params_error()
    return str(content_type)


def _page(rows: list[dict[str, Any]], page: int, size: int) -> list[dict[str, Any]]:
    return rows[(page - 1) * size : page * size]


class FakeBybit(LoopbackServer):
    """Imitates ``api.bybit.com`` for one P2P account (the *self* user) and its counterparties.

    Requests must be signed with ``api_key``/``api_secret``. ``list_shape`` picks the order-scoped listpage
    ``result`` form ("nested" as live, "bare" as in the old docs); ``page_size_cap`` is the largest page
    ``size``/``limit`` accepted. ``self_user_id`` must be numeric, as Bybit's are.
    """

    def __init__(
        self,
        *,
        api_key: str = "sandbox-key",
        api_secret: str = "sandbox-secret",
        list_shape: ListShape = "nested",
        page_size_cap: int = 30,
        self_user_id: str = "10001",
        self_nick: str = "TeamMerchant",
    ) -> None:
        super().__init__()
        self._api_key = api_key
        self._api_secret = api_secret
        self._list_shape = list_shape
        self._page_size_cap = page_size_cap
        self.clock_offset_ms = 0
        """Added to ``time.time()`` to make the fake's clock; positive = our clock is behind Bybit's."""
        self.requests: list[RecordedRequest] = []
        """Every request received, in arrival order."""
        self._self = self._new_user(self_user_id, self_nick)
        self._counterparties: dict[str, _User] = {}
        self._orders: dict[str, FakeOrder] = {}
        self._log: list[_StoredMessage] = []
        self._media: dict[str, _MediaObject] = {}
        self._faults: list[_Injected] = []
        self._retired = False
        self._last_create_ms = 0
        self._endpoints: dict[str, Callable[[Mapping[str, Any]], object]] = {
            "/v5/p2p/user/personal/info": self._personal_info,
            "/v5/p2p/order/info": self._order_info,
            "/v5/p2p/order/pending/simplifyList": self._pending_orders,
            "/v5/p2p/order/message/listpage": self._order_messages,
            "/v5/p2p/order/message/send": self._order_send,
            "/v5/p2p/chat/session/getSessionId": self._session_id,
            "/v5/p2p/chat/message/listpage_v1": self._session_messages,
            "/v5/p2p/chat/message/send_v1": self._session_send,
        }

    # -- control API -------------------------------------------------------------------------------

    @property
    def api_key(self) -> str:
        """The one API key the fake accepts."""
        return self._api_key

    @property
    def api_secret(self) -> str:
        """The secret that key signs with."""
        return self._api_secret

    @property
    def media_base(self) -> str:
        """The host that media paths in chat messages are relative to."""
        return self.url

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
        """Open an order with ``counterparty_nick`` (one user, mask id and chat session per nick)."""
        number = len(self._orders) + 1
        order_id = order_id or str(_ORDER_ID_BASE + number)
        if order_id in self._orders:
            raise ValueError(f"order {order_id} already exists")
        target = self._counterparties.get(counterparty_nick)
        if target is None:
            user_id = str(_COUNTERPARTY_ID_BASE + len(self._counterparties) + 1)
            target = self._counterparties[counterparty_nick] = self._new_user(user_id, counterparty_nick)
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
        name = _opaque("object", str(len(self._media))) + PurePosixPath(file_name).suffix.lower()
        mime_type = mimetypes.guess_type(file_name)[0] or _DEFAULT_MIME[kind]
        self._media[name] = _MediaObject(data, mime_type)
        path = self._signed_path(name)
        return self._store(
            order_id,
            path,
            sender=sender,
            msg_type=_MSG_TYPE_BY_CONTENT[kind],
            content_type=kind,
            file_name=file_name,
            size=len(data),
        )

    def messages(self, order_id: str) -> list[dict[str, Any]]:
        """An order's chat records, oldest first."""
        return [dict(stored.record) for stored in self._log if stored.record["orderId"] == order_id]

    def retire_order_chat(self) -> None:
        """Make the order-scoped chat endpoints answer 912200387, as Bybit does since their retirement."""
        self._retired = True

    def inject(self, fault: Fault, *, times: int = 1, path: str | None = None, reset_after_ms: int = 300) -> None:
        """Make the next ``times`` signed requests (to ``path`` only, if given) fail.

        ``rate_limit``: 10006 with ``X-Bapi-Limit-Reset-Timestamp`` = now + ``reset_after_ms``;
        ``server_error``: HTTP 502 with an HTML body; ``hang``: no answer until :meth:`stop`;
        ``timestamp``: 10002; ``auth``: 10003.
        """
        self._faults.append(_Injected(fault, times, path, reset_after_ms))

    def calls_to(self, path: str) -> int:
        """How many requests were made to ``path``."""
        return sum(1 for request in self.requests if request.path == path)

    # -- state helpers -----------------------------------------------------------------------------

    def _new_user(self, user_id: str, nick: str) -> _User:
        mask_id = _opaque("mask", user_id)
        account_id = str(_ACCOUNT_ID_BASE + int(user_id))
        return _User(user_id, nick, account_id, mask_id, _opaque("session", mask_id))

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
        order = self._orders.get(order_id)
        if order is None:
            raise KeyError(f"unknown order {order_id}")
        number = len(self._log) + 1
        user = self._counterparties[order.target_nick] if sender == "counterparty" else self._self
        if msg_type is None:
            msg_type = 0 if sender == "system" else 1
        role_type = "user"
        if sender == "system":
            role_type = "alarm" if msg_type == _ALARM_MSG_TYPE else "sys"
        if msg_uuid is None:
            msg_uuid = "" if sender == "system" else str(uuid.UUID(int=number))
        if created_ms is None:
            created_ms = max(self.server_time_ms(), self._last_create_ms + 1)
        self._last_create_ms = max(self._last_create_ms, created_ms)
        read = 0 if sender == "counterparty" else 1
        record: dict[str, Any] = {
            "id": str(_MESSAGE_ID_BASE + number),
            "message": content,
            "userId": user.user_id,
            "msgType": msg_type,
            "msgCode": msg_code,
            "createDate": str(created_ms),
            "contentType": content_type,
            "orderId": order.id,
            "msgUuid": msg_uuid,
            "nickName": user.nick,
            "fileName": file_name,
            "accountId": user.account_id,
            "isRead": read,
            "read": read,
            "roleType": role_type,
            "onlyForCustomer": 0,
        }
        self._log.append(_StoredMessage(record, size))
        return dict(record)

    def _media_token(self, name: str, expiry: int) -> str:
        return hmac.new(_MEDIA_KEY, f"{name}:{expiry}".encode(), hashlib.sha256).hexdigest()

    def _order(self, body: Mapping[str, Any]) -> FakeOrder:
        order_id = body.get("orderId")
        if isinstance(order_id, int) and not isinstance(order_id, bool):
            order_id = str(order_id)
        if not isinstance(order_id, str) or not order_id.isdigit():
            raise _params_error()
        order = self._orders.get(order_id)
        if order is None:
            raise _P2PError(CODE_ORDER_NOT_FOUND, "The order does not exist.")
        return order

    def _session_user(self, body: Mapping[str, Any]) -> _User:
        session_id = _str_param(body, "sessionId")
        for user in self._counterparties.values():
            if user.session_id == session_id:
                return user
        raise _P2PError(CODE_SESSION_NOT_FOUND, "session does not exist.")

    def _pay_seconds_left(self, order: FakeOrder) -> int:
        if order.status != 10:
            return 0
        return max(0, PAY_WINDOW_SECONDS - (self.server_time_ms() - order.create_ms) // 1000)

    def _real_names(self, order: FakeOrder) -> tuple[str, str]:
        """(seller, buyer) real names: side 1 means the self user sells."""
        target = self._counterparties[order.target_nick]
        if order.side == 1:
            return self._self.real_name, target.real_name
        return target.real_name, self._self.real_name

    # -- HTTP --------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        record = RecordedRequest(request.method, request.path, _parse_json(raw), request.headers, time.monotonic())
        self.requests.append(record)
        reply = await self._dispatch(request, raw, record.body)
        record.status, record.ret_code = reply.status, reply.ret_code
        return reply.response()

    async def _dispatch(self, request: web.Request, raw: bytes, body: Any) -> _Reply:
        path = request.path
        if request.method == "GET" and path == "/v5/market/time":
            return self._server_time()
        if request.method == "GET" and path.startswith(MEDIA_PATH):
            return self._media_object(path.removeprefix(MEDIA_PATH), request.query)
        endpoint = self._endpoints.get(path)
        if endpoint is None or request.method != "POST":
            return _Reply(status=404, body=b"Not Found")
        injected = self._take_fault(path)
        if injected is not None:
            return await self._faulted(injected, request.headers)
        refusal = self._check_signature(request.headers, raw)
        if refusal is not None:
            return refusal
        try:
            if raw and not isinstance(body, dict):
                raise _params_error()
            result = endpoint(body or {})
        except _P2PError as exc:
            return self._p2p(exc.code, exc.message, {})
        return self._p2p(CODE_OK, "SUCCESS", result)

    def _p2p(self, code: int, message: str, result: object) -> _Reply:
        now_ms = self.server_time_ms()
        payload = {
            "ret_code": code,
            "ret_msg": message,
            "result": result,
            "ext_code": "",
            "ext_info": {},
            "time_now": f"{now_ms / 1000:.6f}",
        }
        return _Reply(payload=payload, ret_code=code)

    def _gateway(self, code: int, message: str, headers: Mapping[str, str] | None = None) -> _Reply:
        payload = {"retCode": code, "retMsg": message, "result": {}, "retExtInfo": {}, "time": self.server_time_ms()}
        return _Reply(payload=payload, ret_code=code, headers=headers or {})

    def _server_time(self) -> _Reply:
        now_ns = time.time_ns() + self.clock_offset_ms * 1_000_000
        result = {"timeSecond": str(now_ns // 1_000_000_000), "timeNano": str(now_ns)}
        payload = {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": now_ns // 1_000_000}
        return _Reply(payload=payload, ret_code=0)

    def _media_object(self, name: str, query: Mapping[str, str]) -> _Reply:
        media = self._media.get(name)
        if media is None:
            return _Reply(status=404, body=b"NoSuchKey")
        expiry = query.get("e", "")
        valid = (
            expiry.isdigit()
            and hmac.compare_digest(query.get("token", ""), self._media_token(name, int(expiry)))
            and int(expiry) >= self.server_time_ms() // 1000
        )
        if not valid:
            return _Reply(status=403, body=b"AccessDenied")
        return _Reply(body=media.data, content_type=media.mime_type)

    def _take_fault(self, path: str) -> _Injected | None:
        for injected in self._faults:
            if injected.path in (None, path):
                injected.remaining -= 1
                if injected.remaining <= 0:
                    self._faults.remove(injected)
                return injected
        return None

    async def _faulted(self, injected: _Injected, headers: Mapping[str, str]) -> _Reply:
        match injected.fault:
            case "rate_limit":
                reset = str(self.server_time_ms() + injected.reset_after_ms)
                return self._gateway(CODE_RATE_LIMIT, "Too many visits!", {RATE_LIMIT_RESET_HEADER: reset})
            case "server_error":
                return _Reply(
                    status=502, body=b"<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html"
                )
            case "hang":
                await self._wait_until(lambda: False, HANG_SECONDS)
                return _Reply(status=504, body=b"Gateway Timeout")
            case "timestamp":
                return self._timestamp_error(headers.get("X-BAPI-TIMESTAMP", ""), DEFAULT_RECV_WINDOW)
            case "auth":
                return self._gateway(CODE_API_KEY, "API key is invalid.")

    def _timestamp_error(self, timestamp: str, recv_window: int) -> _Reply:
        return self._gateway(
            CODE_TIMESTAMP,
            "invalid request, please check your server timestamp or recv_window param. "
            f"req_timestamp[{timestamp}],server_timestamp[{self.server_time_ms()}],recv_window[{recv_window}]",
        )

    def _check_signature(self, headers: Mapping[str, str], raw: bytes) -> _Reply | None:
        """Bybit's HMAC check; ``None`` when the request may proceed.

        The signed string uses the header values exactly as sent (an absent recv window signs as "" and
        counts as 5000 ms).
        """
        key = headers.get("X-BAPI-API-KEY", "")
        if key != self._api_key:
            return self._gateway(CODE_API_KEY, "API key is invalid.")
        timestamp = headers.get("X-BAPI-TIMESTAMP", "")
        recv_window_text = headers.get("X-BAPI-RECV-WINDOW", "")
        recv_window = int(recv_window_text) if recv_window_text.isdigit() else DEFAULT_RECV_WINDOW
        now = self.server_time_ms()
        if not timestamp.isdigit() or not now - recv_window <= int(timestamp) <= now + FUTURE_TOLERANCE_MS:
            return self._timestamp_error(timestamp, recv_window)
        origin = f"{timestamp}{key}{recv_window_text}".encode() + raw
        expected = hmac.new(self._api_secret.encode(), origin, hashlib.sha256).hexdigest()
        signature = headers.get("X-BAPI-SIGN", "").lower()
        if headers.get("X-BAPI-SIGN-TYPE", "2") != "2" or not hmac.compare_digest(signature, expected):
            return self._gateway(CODE_SIGN, f"error sign! origin_string[{origin.decode(errors='replace')}]")
        return None

    # -- endpoints (body → result; _P2PError for refusals) -----------------------------------------

    def _personal_info(self, body: Mapping[str, Any]) -> dict[str, Any]:
        user = self._self
        return {
            "id": user.account_id,
            "userId": user.user_id,
            "accountId": user.account_id,
            "nickName": user.nick,
            "defaultNickName": False,
            "realName": user.real_name,
            "isOnline": True,
            "kycLevel": "2",
            "vipLevel": 0,
            "totalFinishCount": len(self._orders),
            "goodAppraiseRate": 100,
        }

    def _order_info(self, body: Mapping[str, Any]) -> dict[str, Any]:
        order = self._order(body)
        target = self._counterparties[order.target_nick]
        seller_name, buyer_name = self._real_names(order)
        return {
            "id": order.id,
            "side": order.side,
            "orderType": "ORIGIN",
            "itemId": order.item_id,
            "accountId": self._self.account_id,
            "userId": self._self.user_id,
            "nickName": self._self.nick,
            "makerUserId": self._self.user_id,
            "targetAccountId": target.account_id,
            "targetUserId": target.user_id,
            "targetNickName": target.nick,
            "targetUserMaskId": target.mask_id,
            "sellerRealName": seller_name,
            "buyerRealName": buyer_name,
            "tokenId": order.token,
            "tokenName": order.token,
            "currencyId": order.currency,
            "price": order.price,
            "quantity": order.quantity,
            "amount": order.amount,
            "fee": "0",
            "paymentType": order.payment,
            "transferDate": "0",
            "status": order.status,
            "createDate": str(order.create_ms),
            "updateDate": str(order.create_ms),
            "transferLastSeconds": str(self._pay_seconds_left(order)),
            "paymentTermList": [
                {
                    "id": order.item_id,
                    "realName": seller_name,
                    "paymentType": order.payment,
                    "bankName": order.payment,
                    "branchName": "",
                    "accountNo": "4276000011112222",
                    "qrcode": "",
                    "visible": 1,
                    "payMessage": "",
                    "paymentConfigVo": {"paymentType": order.payment, "paymentName": order.payment},
                }
            ],
        }

    def _pending_orders(self, body: Mapping[str, Any]) -> dict[str, Any]:
        page = _int_param(body, "page")
        size = _int_param(body, "size", high=self._page_size_cap)
        pending = [order for order in reversed(self._orders.values()) if order.status in PENDING_STATUSES]
        items = [
            {
                "id": order.id,
                "side": order.side,
                "orderType": "ORIGIN",
                "tokenId": order.token,
                "amount": order.amount,
                "currencyId": order.currency,
                "price": order.price,
                "fee": "0",
                "targetNickName": order.target_nick,
                "targetUserId": order.target_user_id,
                "status": order.status,
                "createDate": str(order.create_ms),
                "transferLastSeconds": str(self._pay_seconds_left(order)),
                "userId": self._self.user_id,
                "selfUnreadMsgCount": str(sum(1 for r in self.messages(order.id) if not r["isRead"])),
            }
            for order in pending
        ]
        return {"count": len(items), "items": _page(items, page, size)}

    def _order_messages(self, body: Mapping[str, Any]) -> object:
        if self._retired:
            raise _P2PError(CODE_CHAT_API_CLOSED, MSG_CHAT_API_CLOSED)
        order = self._order(body)
        size = _int_param(body, "size", high=self._page_size_cap)
        page = _int_param(body, "currentPage", default=1)
        newest_first = [self._fresh_link(record) for record in self.messages(order.id)[::-1]]
        rows = _page(newest_first, page, size)
        if self._list_shape == "bare":
            return rows
        return {
            "result": rows,
            "totalRows": str(len(newest_first)),
            "totalPages": str(math.ceil(len(newest_first) / size)),
            "currentPage": str(page),
            "dayLimit": "0",
            "showDayLimit": False,
        }

    def _order_send(self, body: Mapping[str, Any]) -> None:
        """Store a message from the self user; a repeated ``msgUuid`` is accepted but not stored twice."""
        if self._retired:
            raise _P2PError(CODE_CHAT_API_CLOSED, MSG_CHAT_API_CLOSED)
        order = self._order(body)
        message = _str_param(body, "message")
        msg_uuid = _str_param(body, "msgUuid")
        content_type = _content_type_param(body)
        if any(record["msgUuid"] == msg_uuid for record in self.messages(order.id)):
            return
        self._store(
            order.id,
            message,
            sender="self",
            msg_type=_MSG_TYPE_BY_CONTENT[content_type],
            content_type=content_type,
            file_name=str(body.get("fileName", "")),
            msg_uuid=msg_uuid,
        )

    def _session_id(self, body: Mapping[str, Any]) -> dict[str, str]:
        mask_id = _str_param(body, "userMaskId")
        for user in self._counterparties.values():
            if user.mask_id == mask_id:
                return {"sessionId": user.session_id}
        raise _P2PError(CODE_SESSION_NOT_FOUND, "user does not exist.")

    def _session_messages(self, body: Mapping[str, Any]) -> dict[str, Any]:
        user = self._session_user(body)
        limit = _int_param(body, "limit", high=self._page_size_cap)
        last_id = body.get("lastId") or 0
        if isinstance(last_id, str) and last_id.isdigit():
            last_id = int(last_id)
        if isinstance(last_id, bool) or not isinstance(last_id, int):
            raise _params_error()
        selected = [
            stored
            for stored in reversed(self._log)
            if self._orders[stored.record["orderId"]].target_nick == user.nick
            and (not last_id or int(stored.record["id"]) < last_id)
        ]
        return {
            "messages": [self._session_record(stored, self._fresh_link(stored.record)) for stored in selected[:limit]]
        }

    def _session_send(self, body: Mapping[str, Any]) -> None:
        user = self._session_user(body)
        order = self._order(body)
        message = _str_param(body, "message")
        content_type = _content_type_param(body)
        if order.target_nick != user.nick or len(message) > MAX_SESSION_MESSAGE_CHARS:
            raise _params_error()
        self._store(
            order.id,
            message,
            sender="self",
            msg_type=_MSG_TYPE_BY_CONTENT[content_type],
            content_type=content_type,
            msg_uuid="",
        )

    def _fresh_link(self, record: dict[str, Any]) -> dict[str, Any]:
        """Like Bybit, sign a media path anew (valid 3 h from now) on every list call."""
        path = str(record["message"])
        if not path.startswith(MEDIA_PATH):
            return record
        name = path.removeprefix(MEDIA_PATH).split("?", 1)[0]
        if name not in self._media:
            return record
        return record | {"message": self._signed_path(name)}

    def _signed_path(self, name: str) -> str:
        """The relative media path of ``name`` with a token valid for 3 h from the fake's now."""
        expiry = self.server_time_ms() // 1000 + MEDIA_TTL_SECONDS
        return f"{MEDIA_PATH}{name}?e={expiry}&token={self._media_token(name, expiry)}"

    @staticmethod
    def _session_record(stored: _StoredMessage, record: dict[str, Any]) -> dict[str, Any]:
        content = {
            "content": record["message"],
            "msgType": record["msgType"],
            "msgCode": record["msgCode"],
            "fileName": record["fileName"],
            "size": stored.size,
        }
        return {
            "id": record["id"],
            "sendUserNickName": record["nickName"] if record["roleType"] == "user" else "SYSTEM",
            "contentType": record["contentType"],
            "createDate": record["createDate"],
            "message": json.dumps(content),
        }
