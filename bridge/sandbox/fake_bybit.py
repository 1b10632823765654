"""A fake Bybit v5 P2P API: signed endpoints, both chat API generations, media links and injected faults.

Tests and the demo drive it through Python methods (:meth:`FakeBybit.add_order`,
:meth:`FakeBybit.post_message`, :meth:`FakeBybit.inject`, …) while the bridge talks to it over HTTP exactly
as it would to ``api.bybit.com``. Signatures are verified with the fake's own HMAC code, never the bridge's.

Every signed call spends Bybit's request budget as Bybit counts it: on arrival, in a sliding 1 s window per
account, 10 reads and 5 writes (the send and upload endpoints) a second by default; past it the answer is
10006 "Too many visits!" with ``X-Bapi-Limit-Reset-Timestamp``, the moment the window frees. An optional
``delay`` answers every signed call that many seconds late, as a distant server does.

The chat file upload (``/v5/p2p/oss/upload_file``) takes a multipart body, signed over its exact bytes; what it
returns is the only media URL a pic/pdf/video send accepts (besides those of media already in the fake's chats).

Requests are checked as strictly as Bybit's docs (bybit-exchange/docs, ``docs/p2p``) state their parameters:
a parameter typed *integer* must be a JSON number, one typed *string* a JSON string, required ones present,
page sizes within the documented maximum; anything else is refused with 10001 "params error". Answers
have the docs' fields and JSON types, e.g. ``createDate`` as a string of milliseconds.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import math
import mimetypes
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any, Final, Literal, TypeGuard, TypeVar
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.multipart import BadContentDispositionHeader, parse_content_disposition

from bridge.sandbox._server import LoopbackServer

ListShape = Literal["nested", "bare"]
Sender = Literal["counterparty", "self", "system"]
MediaKind = Literal["pic", "pdf", "video"]
Fault = Literal["rate_limit", "server_error", "hang", "late", "timestamp", "auth", "sign"]
Retirement = Literal["code", "gone", "not json", "path not found"]
"""How the order-scoped chat paths answer once retired: 912200387 (as since September 2026), HTTP 404 (the paths
removed), a page that is not Bybit JSON (a gateway's), or a generic "path not found" envelope."""

CODE_OK: Final = 0
CODE_PARAMS: Final = 10001
CODE_TIMESTAMP: Final = 10002
CODE_API_KEY: Final = 10003
CODE_SIGN: Final = 10004
CODE_RATE_LIMIT: Final = 10006
CODE_ORDER_NOT_FOUND: Final = 912100027
CODE_CHAT_API_CLOSED: Final = 912200387
CODE_SESSION_NOT_FOUND: Final = 912200100  # invented: Bybit does not document this one
CODE_ORDER_CLOSED: Final = (
    912100089  # invented: Bybit refuses chat sends on finished orders with a code it does not document
)
FINAL_STATUSES: Final = frozenset({40, 50, 80})

MSG_CHAT_API_CLOSED: Final = "chat open api close, pls chat with new open api"
CODE_PATH_NOT_FOUND: Final = 10404  # invented: the code of a gateway's generic "path not found" is not documented
ORDER_CHAT_PATHS: Final = frozenset({"/v5/p2p/order/message/listpage", "/v5/p2p/order/message/send"})
RATE_LIMIT_RESET_HEADER: Final = "X-Bapi-Limit-Reset-Timestamp"
PENDING_STATUSES: Final = frozenset({5, 10, 20, 30, 90, 100, 110})
MEDIA_PATH: Final = "/fiat/p2p/oss/showObj/otc/9001/"
MEDIA_TTL_SECONDS: Final = 3 * 3600
UPLOAD_PATH: Final = "/v5/p2p/oss/upload_file"
UNREAD_COUNT_FIELDS: Final = ("unreadCount", "selfUnreadMsgCount", "unreadMsgCount")
WRITE_PATHS: Final = frozenset({"/v5/p2p/order/message/send", "/v5/p2p/chat/message/send_v1", UPLOAD_PATH})
"""The endpoints that spend the write budget; every other one is a read."""
READS_PER_SECOND: Final = 10
"""Bybit's P2P read budget per account (docs page p2p/rate-limit; the session message list states the same)."""
WRITES_PER_SECOND: Final = 5
"""Bybit's P2P write budget per account (docs page p2p/rate-limit; ``send_v1`` states the same)."""
BUDGET_WINDOW_SECONDS: Final = 1.0
UPLOAD_FIELD: Final = "upload_file"
UPLOAD_TTL_SECONDS: Final = 72 * 3600
"""Validity of an upload's URL: the docs' example link expires 72 h after its request's timestamp."""
UPLOAD_TYPES: Final = {".jpg": "IMAGE", ".jpeg": "IMAGE", ".png": "IMAGE", ".pdf": "PDF", ".mp4": "VIDEO"}
"""Accepted extensions and the ``type`` answered; the docs show only "IMAGE", "PDF"/"VIDEO" are guesses."""
DEFAULT_RECV_WINDOW: Final = 5000
FUTURE_TOLERANCE_MS: Final = 1000
HANG_SECONDS: Final = 300.0
PAY_WINDOW_SECONDS: Final = 15 * 60
MAX_SESSION_MESSAGE_CHARS: Final = 1000
SESSION_TYPES: Final = frozenset({"SINGLE", "GROUP"})
SESSION_API_PATHS: Final = frozenset(
    {
        "/v5/p2p/chat/session/getSessionId",
        "/v5/p2p/chat/session/list_v1",
        "/v5/p2p/chat/message/listpage_v1",
        "/v5/p2p/chat/message/send_v1",
    }
)
"""Endpoints whose docs show the short success envelope ``{"ret_code": 0, "ret_msg": "", "result": …}``."""

_ORDER_ID_BASE = 1898976123321221120
_MESSAGE_ID_BASE = 1900000000000000000
_ITEM_ID_BASE = 1800000000000000000
_SESSION_RECORD_BASE = 1994307488961036288
_COUNTERPARTY_ID_BASE = 290000000
_ACCOUNT_ID_BASE = 500000000
_PAYMENT_TYPE_BASE = 370
_MEDIA_KEY = b"sandbox-media-signing-key"
_MSG_TYPE_BY_CONTENT = {"str": 1, "pic": 2, "pdf": 7, "video": 8}
_DEFAULT_MIME = {"pic": "image/png", "pdf": "application/pdf", "video": "video/mp4"}
_KIND_BY_UPLOAD_TYPE: Final[dict[str, MediaKind]] = {"IMAGE": "pic", "PDF": "pdf", "VIDEO": "video"}
_ALARM_MSG_TYPE = 103
_COMPACT = (",", ":")

# Every field of the docs' examples, with neutral values; the fake overlays an order's or user's own.
_PAYMENT_TERM: Final[dict[str, Any]] = {
    "id": "0",
    "realName": "",
    "paymentType": 0,
    "bankName": "",
    "branchName": "",
    "accountNo": "",
    "qrcode": "",
    "visible": 0,
    "payMessage": "",
    "firstName": "",
    "lastName": "",
    "secondLastName": "",
    "clabe": "",
    "debitCardNumber": "",
    "mobile": "",
    "businessName": "",
    "concept": "",
    "online": "",
    "paymentExt1": "",
    "paymentExt2": "",
    "paymentExt3": "",
    "paymentExt4": "",
    "paymentExt5": "",
    "paymentExt6": "",
    "paymentTemplateVersion": 0,
    "paymentConfigVo": {
        "paymentType": "0",
        "checkType": 0,
        "sort": 0,
        "paymentName": "",
        "addTips": "",
        "itemTips": "",
        "online": 0,
        "items": [],
    },
    "ruPaymentPrompt": False,
}
_JUDGE_INFO: Final = {"autoJudgeUnlockTime": "0", "dissentResult": "", "preDissent": "", "postDissent": ""}
_EXTENSION: Final = {"isDelayWithdraw": False, "delayTime": "0", "startTime": ""}
_ORDER_INFO: Final[dict[str, Any]] = {
    "id": "",
    "side": 0,
    "itemId": "",
    "accountId": "",
    "userId": "",
    "nickName": "",
    "makerUserId": "",
    "targetAccountId": "",
    "targetUserId": "",
    "targetNickName": "",
    "targetUserMaskId": "",
    "targetFirstName": "",
    "targetSecondName": "",
    "targetUserAuthStatus": 2,
    "targetConnectInformation": "",
    "payerRealName": "",
    "sellerRealName": "",
    "buyerRealName": "",
    "tokenId": "",
    "tokenName": "",
    "currencyId": "",
    "price": "",
    "quantity": "",
    "amount": "",
    "payCode": "",
    "paymentType": 0,
    "transferDate": "0",
    "status": 0,
    "createDate": "",
    "paymentTermList": [],
    "remark": "",
    "transferLastSeconds": "0",
    "recentOrderNum": 0,
    "recentExecuteRate": 0,
    "appealLastSeconds": "0",
    "appealContent": "",
    "appealType": 0,
    "appealNickName": "",
    "canAppeal": "N",
    "totalAppealTimes": "0",
    "appealedTimes": "0",
    "paymentTermResult": _PAYMENT_TERM,
    "orderFinishMinute": PAY_WINDOW_SECONDS // 60,
    "confirmedPayTerm": _PAYMENT_TERM,
    "makerFee": "",
    "takerFee": "",
    "fee": "0",
    "showContact": False,
    "contactInfo": [],
    "tokenBalance": "0",
    "fiatBalance": "0",
    "unreadMsgCount": "0",
    "updateDate": "",
    "extension": _EXTENSION,
    "selfUnreadMsgCount": "0",
    "judgeType": "",
    "canReport": False,
    "canReportDisagree": False,
    "canReportType": [],
    "canReportDisagreeType": [],
    "appraiseStatus": "CANNOT_APPRAISE",
    "appraiseInfo": {
        "anonymous": "",
        "appraiseContent": "",
        "appraiseId": "",
        "appraiseType": "",
        "modifyFlag": "",
        "updateDate": "",
    },
    "canReportDisagreeTypes": [],
    "canReportTypes": [],
    "orderType": "ORIGIN",
    "middleToken": "",
    "beforePrice": "",
    "beforeQuantity": "",
    "beforeToken": "",
    "alternative": "",
    "appealUserId": "0",
    "notifyTokenId": "",
    "notifyTokenQuantity": "",
    "cancelResponsible": "",
    "chainType": "",
    "chainAddress": "",
    "tradeHashCode": "",
    "estimatedGasFee": "0.0000",
    "gasFeeTokenId": "",
    "tradingFeeTokenId": "",
    "onChainInfo": "",
    "transactionId": "0",
    "displayRefund": "0",
    "chainWithdrawLastSeconds": "0",
    "chainTransferLastSeconds": "0",
    "orderSource": "P2P",
    "cancelReason": "",
    "needBuyerExamineCancel": False,
    "sellerCancelExamineRemainTime": "",
    "needSellerExamineCancel": False,
    "couponCurrencyAmount": "0",
    "totalCurrencyAmount": "0",
    "usedCoupon": False,
    "couponTokenId": "",
    "couponQuantity": "0",
    "completedOrderAppealCount": 0,
    "totalCompletedOrderAppealCount": 0,
    "realOrderStatus": 0,
    "appealVersion": 0,
    "judgeInfo": _JUDGE_INFO,
    "helpType": "NEVER",
    "appealFlowStatus": "",
    "appealSubStatus": "",
    "bulkOrderFlag": False,
    "targetUserType": "PERSONAL",
    "targetUserDisplays": [],
    "appealProcessChangeFlag": False,
    "appealNegotiationNode": 0,
}
_PENDING_ITEM: Final[dict[str, Any]] = {
    "id": "",
    "side": 0,
    "tokenId": "",
    "orderType": "ORIGIN",
    "amount": "",
    "currencyId": "",
    "price": "",
    "notifyTokenQuantity": "",
    "notifyTokenId": "",
    "fee": "0",
    "targetNickName": "",
    "targetUserId": "",
    "targetUserMaskId": "",
    "status": 0,
    "selfUnreadMsgCount": "0",
    "createDate": "",
    "transferLastSeconds": "0",
    "appealLastSeconds": "0",
    "userId": "",
    "sellerRealName": "",
    "buyerRealName": "",
    "judgeInfo": _JUDGE_INFO,
    "unreadMsgCount": "0",
    "extension": _EXTENSION,
    "bulkOrderFlag": False,
}
_PERSONAL_INFO: Final[dict[str, Any]] = {
    "nickName": "",
    "defaultNickName": False,
    "whiteFlag": 1,
    "contactConfig": True,
    "isOnline": True,
    "email": "t********m@example.com",
    "mobile": "",
    "kycLevel": 2,
    "lastLogoutTime": "0",
    "recentRate": 100,
    "totalFinishCount": 0,
    "totalFinishSellCount": 0,
    "totalFinishBuyCount": 0,
    "recentFinishCount": 0,
    "averageReleaseTime": "0",
    "averageTransferTime": "0",
    "accountCreateDays": 400,
    "firstTradeDays": 300,
    "realName": "",
    "recentTradeAmount": "0",
    "totalTradeAmount": "0",
    "executeNum": 0,
    "orderNum": 0,
    "hasUnPostAd": 0,
    "registerTime": "1681266699",
    "authStatus": 1,
    "kycCountryCode": "RUS",
    "blocked": "",
    "goodAppraiseRate": "100",
    "goodAppraiseCount": 0,
    "badAppraiseCount": 0,
    "accountId": "",
    "paymentCount": 0,
    "contactCount": 0,
    "realNameMask": "",
    "vipLevel": 1,
    "vipProfit": [],
    "userTag": [],
    "userCancelCountLimit": 1000,
    "paymentRealNameUneditable": True,
    "lostRoleAffected": False,
    "userCurPrivilege": ["OPEN_API_ACCESS"],
    "userType": "PERSONAL",
    "userId": "",
    "realNameEn": "",
    "canSubOnline": True,
    "curPrivilegeInfo": [{"name": "OPEN_API_ACCESS", "data": "NONE"}],
    "openApiSwitch": 1,
}


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
    """A chat message: made by the fake from an order listpage record, or a raw item served exactly as given.

    ``order_id`` is ``None`` for a raw session item; a raw order item is not shown in sessions.
    """

    number: int  # the numeric message id: sort key and ``lastId`` cursor
    nick: str  # the counterparty whose session holds it
    order_id: str | None
    item: dict[str, Any]
    raw: bool = False
    size: int = 0


@dataclass(frozen=True)
class _MediaObject:
    data: bytes
    mime_type: str
    file_name: str
    kind: MediaKind


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


def _is_digits(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and value.isascii() and value.isdigit()


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_param(body: Mapping[str, Any], name: str, *, low: int = 1, high: int | None = None) -> int:
    """A required parameter the docs type as integer: a JSON number in ``[low, high]`` (strings refused)."""
    value = body.get(name)
    if not _is_int(value) or value < low or (high is not None and value > high):
        raise _params_error()
    return value


def _optional_int(body: Mapping[str, Any], name: str, allowed: Iterable[int]) -> int | None:
    """An optional integer parameter (absent or null: ``None``) that must be one of ``allowed``."""
    value = body.get(name)
    if value is None:
        return None
    if not _is_int(value) or value not in allowed:
        raise _params_error()
    return value


def _number_text_param(
    body: Mapping[str, Any], name: str, *, default: str | None = None, high: int | None = None
) -> int:
    """A positive number the docs type as string: a JSON string of digits (JSON numbers refused)."""
    value = body.get(name)
    if value is None:
        value = default
    if not _is_digits(value) or int(value) < 1 or (high is not None and int(value) > high):
        raise _params_error()
    return int(value)


def _str_param(body: Mapping[str, Any], name: str, *, max_chars: int | None = None) -> str:
    """A required string parameter: a non-empty JSON string of at most ``max_chars`` characters."""
    value = body.get(name)
    if not isinstance(value, str) or not value or (max_chars is not None and len(value) > max_chars):
        raise _params_error()
    return value


def _optional_str(body: Mapping[str, Any], name: str) -> str | None:
    """An optional string parameter: absent or null is ``None``, anything but a JSON string is refused."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _params_error()
    return value


def _time_param(body: Mapping[str, Any], name: str) -> int | None:
    """``beginTime``/``endTime``: an optional string of milliseconds ("" or null: none)."""
    value = _optional_str(body, name)
    if not value:
        return None
    if not _is_digits(value):
        raise _params_error()
    return int(value)


def _content_type_param(body: Mapping[str, Any]) -> str:
    content_type = _str_param(body, "contentType")
    if content_type not in _MSG_TYPE_BY_CONTENT:
        raise _params_error()
    return content_type


def _upload_part(content_type: str, raw: bytes) -> tuple[str, str, bytes]:
    """The one part of an upload body: (file name, its Content-Type, bytes), strictly as RFC 7578 frames it.

    The body must be ``--<boundary>`` CRLF, the part's headers, CRLF CRLF, the bytes, CRLF ``--<boundary>--``
    (an optional CRLF after): one part named ``upload_file`` with a ``filename`` and a ``Content-Type``.
    """
    media_type, params = _header_value(content_type)
    boundary = params.get("boundary", "")
    if media_type != "multipart/form-data" or not boundary:
        raise _params_error()
    delimiter = f"--{boundary}".encode()
    closing = b"\r\n" + delimiter + b"--"
    if not raw.startswith(delimiter + b"\r\n") or not raw.removesuffix(b"\r\n").endswith(closing):
        raise _params_error()
    part = raw[len(delimiter) + 2 : raw.removesuffix(b"\r\n").rindex(closing)]
    head, separator, data = part.partition(b"\r\n\r\n")
    if not separator or b"\r\n" + delimiter in data:
        raise _params_error()
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", errors="replace").split("\r\n"):
        name, colon, value = line.partition(":")
        if not colon:
            raise _params_error()
        headers[name.strip().lower()] = value.strip()
    try:
        disposition, fields = parse_content_disposition(headers.get("content-disposition"))
    except BadContentDispositionHeader:
        raise _params_error() from None
    file_name = fields.get("filename", "")
    part_type = headers.get("content-type", "")
    if disposition != "form-data" or fields.get("name") != UPLOAD_FIELD or not file_name or not part_type:
        raise _params_error()
    return file_name, part_type, data


def _header_value(value: str) -> tuple[str, dict[str, str]]:
    """A header's lowercased value and its ``;``-separated parameters (quotes removed)."""
    main, *rest = value.split(";")
    params = {}
    for param in rest:
        name, _, text = param.partition("=")
        params[name.strip().lower()] = text.strip().strip('"')
    return main.strip().lower(), params


def _message_number(item: Mapping[str, Any]) -> int:
    """The numeric id of a raw chat item (a JSON number or a string of digits, as Bybit's ids are)."""
    value = item.get("id")
    if _is_int(value) or _is_digits(value):
        return int(value)
    raise ValueError(f"a raw chat message needs a numeric id, not {value!r}")


def _media_name(path: str) -> str:
    """The object name in a relative media path ("" when ``path`` is not one)."""
    if not path.startswith(MEDIA_PATH):
        return ""
    return path.removeprefix(MEDIA_PATH).split("?", 1)[0]


Row = TypeVar("Row")


def _page(rows: list[Row], page: int, size: int) -> list[Row]:
    return rows[(page - 1) * size : page * size]


class FakeBybit(LoopbackServer):
    """Imitates ``api.bybit.com`` for one P2P account (the *self* user) and its counterparties.

    Requests must be signed with ``api_key``/``api_secret``. ``list_shape`` picks the order-scoped listpage
    ``result``: "nested" (``{"result": [...]}``, the docs since December 2025) or "bare" (the list, as before);
    ``page_size_cap`` is the largest page ``size``/``limit`` accepted (30 in Bybit's docs). ``self_user_id``
    must be numeric, as Bybit's are.

    ``delay`` (seconds) holds every answer to a signed call that long (Bybit from afar: about 0.15 s).
    ``reads_per_second``/``writes_per_second`` are the request budget, counted on arrival in a sliding 1 s
    window (``None``: not enforced); a request refused for it does not count against the window.
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
        delay: float = 0.0,
        reads_per_second: int | None = READS_PER_SECOND,
        writes_per_second: int | None = WRITES_PER_SECOND,
    ) -> None:
        super().__init__()
        self.delay = delay
        """Seconds every answer to a signed call is held; may change while the fake runs."""
        self.reads_per_second = reads_per_second
        """Reads admitted in any 1 s window (``None``: no limit); may change while the fake runs."""
        self.writes_per_second = writes_per_second
        """Writes admitted in any 1 s window (``None``: no limit); may change while the fake runs."""
        self._arrivals: dict[bool, deque[float]] = {False: deque(), True: deque()}
        """Arrival times (monotonic) of the admitted reads (False) and writes (True) in the last window."""
        self.rate_limited_answers = 0
        """10006 answers given because a request exceeded the budget (injected ones are not counted)."""
        self._api_key = api_key
        self._api_secret = api_secret
        self._list_shape = list_shape
        self._page_size_cap = page_size_cap
        self.clock_offset_ms = 0
        """Added to ``time.time()`` to make the fake's clock; positive = our clock is behind Bybit's."""
        self.read_in_app_at_once = False
        """While True the merchant has every chat open in the Bybit app: each message is read the moment it is
        written, so the unread counts never move (Bybit's hints say nothing)."""
        self.serve_unread_counts = True
        """While False Bybit's answers leave out every unread count (``unreadCount``, ``selfUnreadMsgCount``,
        ``unreadMsgCount``), as a field that goes missing: the bridge has no hints at all."""
        self.media_host_down = False
        """While True the media host answers every download with 503, as during an outage."""
        self.requests: list[RecordedRequest] = []
        """Every request received, in arrival order."""
        self._self = self._new_user(self_user_id, self_nick)
        self._counterparties: dict[str, _User] = {}
        self._orders: dict[str, FakeOrder] = {}
        self._payment_types: dict[str, int] = {}
        self._log: list[_StoredMessage] = []
        self._unread_by_order: Counter[str] = Counter()
        self._unread_by_nick: Counter[str] = Counter()
        self._media: dict[str, _MediaObject] = {}
        self._faults: list[_Injected] = []
        self._retired: Retirement | None = None
        self._last_create_ms = 0
        self._endpoints: dict[str, Callable[[Mapping[str, Any]], object]] = {
            "/v5/p2p/user/personal/info": self._personal_info,
            "/v5/p2p/order/info": self._order_info,
            "/v5/p2p/order/pending/simplifyList": self._pending_orders,
            "/v5/p2p/order/message/listpage": self._order_messages,
            "/v5/p2p/order/message/send": self._order_send,
            "/v5/p2p/chat/session/getSessionId": self._session_id,
            "/v5/p2p/chat/session/list_v1": self._sessions,
            "/v5/p2p/chat/message/listpage_v1": self._session_messages,
            "/v5/p2p/chat/message/send_v1": self._session_send,
        }
        self._raw_endpoints: dict[str, Callable[[str, bytes], object]] = {UPLOAD_PATH: self._upload_file}
        """Endpoints whose body is not JSON: (the request's Content-Type, its body) → result."""

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
        name = self._keep_media(kind, data, file_name)
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

    def retire_order_chat(self, how: Retirement = "code") -> None:
        """Retire the order-scoped chat endpoints: 912200387, as Bybit answers since September 2026, or ``how``."""
        self._retired = how

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

    def inject(self, fault: Fault, *, times: int = 1, path: str | None = None, reset_after_ms: int = 300) -> None:
        """Make the next ``times`` signed requests (to ``path`` only, if given) fail.

        ``rate_limit``: 10006 with ``X-Bapi-Limit-Reset-Timestamp`` = now + ``reset_after_ms``;
        ``server_error``: HTTP 502 with an HTML body; ``hang``: no answer until :meth:`stop`; ``late``: the
        request is carried out (a send is stored) but answered only at :meth:`stop`, as when Bybit took it
        and the answer was lost;
        ``timestamp``: 10002; ``auth``: 10003; ``sign``: 10004 quoting the signed string, API key included, as
        Bybit's "error sign!" does.
        """
        self._faults.append(_Injected(fault, times, path, reset_after_ms))

    def calls_to(self, path: str) -> int:
        """How many requests were made to ``path``."""
        return sum(1 for request in self.requests if request.path == path)

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

    def _keep_media(self, kind: MediaKind, data: bytes, file_name: str) -> str:
        """Store a media object; return its name (opaque, with the file's extension)."""
        name = _opaque("object", str(len(self._media))) + PurePosixPath(file_name).suffix.lower()
        mime_type = mimetypes.guess_type(file_name)[0] or _DEFAULT_MIME[kind]
        self._media[name] = _MediaObject(data, mime_type, file_name, kind)
        return name

    def _sent_media(self, content_type: str, message: str) -> _MediaObject | None:
        """The media a send refers to (``None`` for text); a pic/pdf/video send must carry a URL this fake
        signed (by an upload or in a chat list), for a file of that kind."""
        if content_type == "str":
            return None
        name = _media_name(message)
        media = self._media.get(name)
        query = dict(parse_qsl(message.partition("?")[2]))
        expiry = query.get("e", "")
        signed = expiry.isdigit() and hmac.compare_digest(query.get("token", ""), self._media_token(name, int(expiry)))
        if media is None or not signed or media.kind != content_type:
            raise _params_error()
        return media

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

    def _media_token(self, name: str, expiry: int) -> str:
        return hmac.new(_MEDIA_KEY, f"{name}:{expiry}".encode(), hashlib.sha256).hexdigest()

    def _order(self, body: Mapping[str, Any]) -> FakeOrder:
        """The order named by ``orderId``: a required string of digits."""
        order_id = _str_param(body, "orderId")
        if not _is_digits(order_id):
            raise _params_error()
        order = self._orders.get(order_id)
        if order is None:
            raise _P2PError(CODE_ORDER_NOT_FOUND, "The order does not exist.")
        return order

    def _open_order(self, body: Mapping[str, Any]) -> FakeOrder:
        """The order a chat send is about; a finished one takes no more messages."""
        order = self._order(body)
        if order.status in FINAL_STATUSES:
            raise _P2PError(CODE_ORDER_CLOSED, "The order is finished and takes no more messages.")
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
        if (path not in self._endpoints and path not in self._raw_endpoints) or request.method != "POST":
            return _Reply(status=404, body=b"Not Found")
        if path in ORDER_CHAT_PATHS and self._retired not in (None, "code"):
            return self._retired_path(self._retired)
        injected = self._take_fault(path)
        refusal: _Reply | None
        if injected is not None and injected.fault != "late":
            refusal = await self._faulted(injected, request.headers, raw)
        else:  # checked on arrival, answered after the delay
            refusal = self._check_signature(request.headers, raw) or self._check_budget(path)
        await self._wait_until(lambda: False, self.delay)
        if refusal is not None:
            return refusal
        reply = self._answer(path, body, raw, request.headers.get("Content-Type", ""))
        if injected is not None:  # "late": carried out now, answered when the client gave up long ago
            await self._wait_until(lambda: False, HANG_SECONDS)
        return reply

    def _answer(self, path: str, body: Any, raw: bytes, content_type: str) -> _Reply:
        try:
            if path in self._raw_endpoints:
                result = self._raw_endpoints[path](content_type, raw)
            elif raw and not isinstance(body, dict):
                raise _params_error()
            else:
                result = self._endpoints[path](body or {})
        except _P2PError as exc:
            return self._p2p(exc.code, exc.message, {})
        if path == UPLOAD_PATH:  # the docs' example envelope, message and all
            payload = {"result": result, "token": None, "ret_code": CODE_OK, "ret_msg": "成功"}
            return _Reply(payload=payload, ret_code=CODE_OK)
        if path in SESSION_API_PATHS:
            short = {"ret_code": CODE_OK, "ret_msg": ""} | ({} if result is None else {"result": result})
            return _Reply(payload=short, ret_code=CODE_OK)
        return self._p2p(CODE_OK, "SUCCESS", result)

    def _retired_path(self, how: Retirement) -> _Reply:
        if how == "gone":
            return _Reply(status=404, body=b"Not Found")
        if how == "not json":
            return _Reply(body=b"<html><body>This page is no longer here</body></html>", content_type="text/html")
        return self._gateway(CODE_PATH_NOT_FOUND, "path not found")

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
        if self.media_host_down:
            return _Reply(status=503, body=b"Service Unavailable")
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

    async def _faulted(self, injected: _Injected, headers: Mapping[str, str], raw: bytes) -> _Reply:
        match injected.fault:
            case "rate_limit":
                return self._rate_limited(self.server_time_ms() + injected.reset_after_ms)
            case "server_error":
                return _Reply(
                    status=502, body=b"<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html"
                )
            case "hang" | "late":  # (a late one never gets here)
                await self._wait_until(lambda: False, HANG_SECONDS)
                return _Reply(status=504, body=b"Gateway Timeout")
            case "timestamp":
                return self._timestamp_error(headers.get("X-BAPI-TIMESTAMP", ""), DEFAULT_RECV_WINDOW)
            case "auth":
                return self._gateway(CODE_API_KEY, "API key is invalid.")
            case "sign":
                return self._sign_error(headers, raw)

    def _rate_limited(self, reset_ms: int) -> _Reply:
        """10006 in the gateway envelope; the header says when (ms, the fake's clock) to try again."""
        return self._gateway(CODE_RATE_LIMIT, "Too many visits!", {RATE_LIMIT_RESET_HEADER: str(reset_ms)})

    def _check_budget(self, path: str) -> _Reply | None:
        """Count a signed request against its budget on arrival; ``None`` when it fits the 1 s window."""
        write = path in WRITE_PATHS
        limit, arrivals = self.writes_per_second if write else self.reads_per_second, self._arrivals[write]
        if limit is None:
            return None
        now = time.monotonic()
        while arrivals and now - arrivals[0] >= BUDGET_WINDOW_SECONDS:
            arrivals.popleft()
        if len(arrivals) < limit:
            arrivals.append(now)
            return None
        self.rate_limited_answers += 1
        frees_in_ms = math.ceil((arrivals[0] + BUDGET_WINDOW_SECONDS - now) * 1000)
        return self._rate_limited(self.server_time_ms() + frees_in_ms)

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
        expected = hmac.new(self._api_secret.encode(), self._signed(headers, raw), hashlib.sha256).hexdigest()
        signature = headers.get("X-BAPI-SIGN", "").lower()
        if headers.get("X-BAPI-SIGN-TYPE", "2") != "2" or not hmac.compare_digest(signature, expected):
            return self._sign_error(headers, raw)
        return None

    @staticmethod
    def _signed(headers: Mapping[str, str], raw: bytes) -> bytes:
        """What a request signs: timestamp, API key and recv window as sent, then the body."""
        names = ("X-BAPI-TIMESTAMP", "X-BAPI-API-KEY", "X-BAPI-RECV-WINDOW")
        return "".join(headers.get(name, "") for name in names).encode() + raw

    def _sign_error(self, headers: Mapping[str, str], raw: bytes) -> _Reply:
        """10004, quoting the signed string (the API key in it) as Bybit does."""
        signed = self._signed(headers, raw).decode(errors="replace")
        return self._gateway(CODE_SIGN, f"error sign! origin_string[{signed}]")

    # -- endpoints (body → result; _P2PError for refusals) -----------------------------------------

    def _personal_info(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """No parameters. Types as the docs' example: ``kycLevel``/``recentRate`` numbers, ``accountId`` text."""
        user = self._self
        return _PERSONAL_INFO | {
            "nickName": user.nick,
            "totalFinishCount": len(self._orders),
            "realName": user.real_name,
            "accountId": user.account_id,
            "paymentCount": len(self._payment_types),
            "realNameMask": user.real_name[:6] + "***",
            "userId": user.user_id,
            "realNameEn": user.real_name,
        }

    def _order_info(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``orderId`` (string, required)."""
        order = self._order(body)
        target = self._counterparties[order.target_nick]
        seller_name, buyer_name = self._real_names(order)
        term = self._payment_term(order, seller_name)
        seconds_left = str(self._pay_seconds_left(order))
        unread = str(self._unread(order_id=order.id))
        return self._counted(
            _ORDER_INFO
            | {
                "id": order.id,
                "side": order.side,
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
                "payCode": order.id[-6:],
                "paymentType": order.payment_type,
                "status": order.status,
                "createDate": str(order.create_ms),
                "paymentTermList": [term],
                "transferLastSeconds": seconds_left,
                "confirmedPayTerm": term,
                "unreadMsgCount": unread,
                "updateDate": str(order.create_ms),
                "selfUnreadMsgCount": unread,
                "middleToken": order.token,
                "notifyTokenId": order.token,
                "notifyTokenQuantity": order.quantity,
                "chainWithdrawLastSeconds": seconds_left,
                "chainTransferLastSeconds": seconds_left,
                "totalCurrencyAmount": order.amount,
                "realOrderStatus": order.status,
            }
        )

    def _counted(self, answer: dict[str, Any]) -> dict[str, Any]:
        """``answer`` as it is, or without its unread counts while they are not served."""
        if not self.serve_unread_counts:
            for name in UNREAD_COUNT_FIELDS:
                answer.pop(name, None)
        return answer

    @staticmethod
    def _payment_term(order: FakeOrder, seller_name: str) -> dict[str, Any]:
        """The seller's payment method: ``paymentType`` a number, its config's ``paymentType`` text."""
        config = _PAYMENT_TERM["paymentConfigVo"] | {
            "paymentType": str(order.payment_type),
            "paymentName": order.payment,
        }
        return _PAYMENT_TERM | {
            "id": order.item_id,
            "realName": seller_name,
            "paymentType": order.payment_type,
            "bankName": order.payment,
            "accountNo": "4276000011112222",
            "visible": 1,
            "online": "0",
            "paymentTemplateVersion": 1,
            "paymentConfigVo": config,
        }

    def _pending_orders(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``page``, ``size`` ≤ 30 (integers, required); optional ``status``/``side`` (integers),
        ``tokenId``/``beginTime``/``endTime`` (strings; times in ms); null counts as absent."""
        page = _int_param(body, "page")
        size = _int_param(body, "size", high=self._page_size_cap)
        status = _optional_int(body, "status", PENDING_STATUSES)
        side = _optional_int(body, "side", (0, 1))
        token = _optional_str(body, "tokenId")
        begin = _time_param(body, "beginTime")
        end = _time_param(body, "endTime")
        pending = [
            order
            for order in reversed(self._orders.values())
            if order.status in PENDING_STATUSES
            and status in (None, order.status)
            and side in (None, order.side)
            and token in (None, "", order.token)
            and (begin is None or order.create_ms >= begin)
            and (end is None or order.create_ms <= end)
        ]
        return {"count": len(pending), "items": [self._pending_item(order) for order in _page(pending, page, size)]}

    def _pending_item(self, order: FakeOrder) -> dict[str, Any]:
        seller_name, buyer_name = self._real_names(order)
        unread = str(self._unread(order_id=order.id))
        return self._counted(
            _PENDING_ITEM
            | {
                "id": order.id,
                "side": order.side,
                "tokenId": order.token,
                "amount": order.amount,
                "currencyId": order.currency,
                "price": order.price,
                "notifyTokenQuantity": order.quantity,
                "notifyTokenId": order.token,
                "targetNickName": order.target_nick,
                "targetUserId": order.target_user_id,
                "targetUserMaskId": order.target_mask_id,
                "status": order.status,
                "selfUnreadMsgCount": unread,
                "createDate": str(order.create_ms),
                "transferLastSeconds": str(self._pay_seconds_left(order)),
                "userId": self._self.user_id,
                "sellerRealName": seller_name,
                "buyerRealName": buyer_name,
                "unreadMsgCount": unread,
            }
        )

    def _order_messages(self, body: Mapping[str, Any]) -> object:
        """``orderId``, ``size`` ≤ 30 (strings, required), ``currentPage`` (string, default "1")."""
        if self._retired is not None:
            raise _P2PError(CODE_CHAT_API_CLOSED, MSG_CHAT_API_CLOSED)
        order = self._order(body)
        size = _number_text_param(body, "size", high=self._page_size_cap)
        page = _number_text_param(body, "currentPage", default="1")
        held = sorted((s for s in self._log if s.order_id == order.id), key=lambda s: s.number, reverse=True)
        newest_first = [stored.item if stored.raw else self._fresh_link(stored.item) for stored in held]
        rows = _page(newest_first, page, size)
        return rows if self._list_shape == "bare" else {"result": rows}

    def _order_send(self, body: Mapping[str, Any]) -> None:
        """``message``, ``contentType``, ``orderId``, ``msgUuid`` (strings, required), ``fileName`` (optional).

        A repeated ``msgUuid`` is accepted but not stored twice.
        """
        if self._retired is not None:
            raise _P2PError(CODE_CHAT_API_CLOSED, MSG_CHAT_API_CLOSED)
        order = self._open_order(body)
        message = _str_param(body, "message")
        msg_uuid = _str_param(body, "msgUuid")
        content_type = _content_type_param(body)
        file_name = _optional_str(body, "fileName")
        media = self._sent_media(content_type, message)
        if any(record.get("msgUuid") == msg_uuid for record in self.messages(order.id)):
            return
        self._store(
            order.id,
            message,
            sender="self",
            msg_type=_MSG_TYPE_BY_CONTENT[content_type],
            content_type=content_type,
            file_name=file_name or (media.file_name if media else ""),
            size=len(media.data) if media else 0,
            msg_uuid=msg_uuid,
        )

    def _session_id(self, body: Mapping[str, Any]) -> dict[str, str]:
        """``userMaskId`` (string, required)."""
        mask_id = _str_param(body, "userMaskId")
        for user in self._counterparties.values():
            if user.mask_id == mask_id:
                return {"sessionId": user.session_id}
        raise _P2PError(CODE_SESSION_NOT_FOUND, "user does not exist.")

    def _sessions(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``lastId`` (≥ 0, 0 = first page), ``size``, ``readStatus`` 0/1/2 (integers, required);
        optional ``type`` SINGLE/GROUP. Newest session first; ``id`` and ``unreadCount`` as strings."""
        last_id = _int_param(body, "lastId", low=0)
        size = _int_param(body, "size", high=self._page_size_cap)
        read_status = _int_param(body, "readStatus", low=0, high=2)
        session_type = _optional_str(body, "type")
        if session_type is not None and session_type not in SESSION_TYPES:
            raise _params_error()
        sessions = []
        for number, user in reversed(list(enumerate(self._counterparties.values(), _SESSION_RECORD_BASE))):
            unread = self._unread(nick=user.nick)
            if session_type == "GROUP" or (last_id and number >= last_id):
                continue
            if (read_status == 0 and not unread) or (read_status == 1 and unread):  # 0 unread, 1 read, 2 all
                continue
            sessions.append(
                self._counted(
                    {
                        "sessionName": user.nick,
                        "sessionId": user.session_id,
                        "type": "SINGLE",
                        "id": str(number),
                        "unreadCount": str(unread),
                    }
                )
            )
        return {"chatSession": sessions[:size]}

    def _session_messages(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``lastId`` (≥ 0, 0 = newest), ``limit`` ≤ 30 (integers), ``sessionId`` (string); all required."""
        last_id = _int_param(body, "lastId", low=0)
        limit = _int_param(body, "limit", high=self._page_size_cap)
        user = self._session_user(body)
        shown = [s for s in self._log if s.nick == user.nick and not (s.raw and s.order_id is not None)]
        older = [s for s in shown if not last_id or s.number < last_id]
        page = sorted(older, key=lambda s: s.number, reverse=True)[:limit]
        return {"messages": [stored.item if stored.raw else self._session_item(stored) for stored in page]}

    def _session_send(self, body: Mapping[str, Any]) -> None:
        """``message`` (≤ 1000 characters), ``contentType``, ``sessionId``, ``orderId``: strings, all required.

        The order must be with the session's counterparty.
        """
        message = _str_param(body, "message", max_chars=MAX_SESSION_MESSAGE_CHARS)
        content_type = _content_type_param(body)
        user = self._session_user(body)
        order = self._open_order(body)
        if order.target_nick != user.nick:
            raise _params_error()
        media = self._sent_media(content_type, message)
        self._store(
            order.id,
            message,
            sender="self",
            msg_type=_MSG_TYPE_BY_CONTENT[content_type],
            content_type=content_type,
            file_name=media.file_name if media else "",
            size=len(media.data) if media else 0,
            msg_uuid="",
        )

    def _upload_file(self, content_type: str, raw: bytes) -> dict[str, Any]:
        """One multipart part ``upload_file`` (a non-empty jpg, jpeg, png, pdf or mp4, by its file name).

        The result as in the docs' example: ``uploadId`` null, ``type`` and a relative URL valid 72 h.
        """
        file_name, _, data = _upload_part(content_type, raw)
        upload_type = UPLOAD_TYPES.get(PurePosixPath(file_name).suffix.lower())
        if upload_type is None or not data:
            raise _params_error()
        name = self._keep_media(_KIND_BY_UPLOAD_TYPE[upload_type], data, file_name)
        return {"uploadId": None, "type": upload_type, "url": self._signed_path(name, UPLOAD_TTL_SECONDS)}

    def _fresh_link(self, record: dict[str, Any]) -> dict[str, Any]:
        """Like Bybit, sign a media path anew (valid 3 h from now) on every list call."""
        name = _media_name(str(record["message"]))
        if name not in self._media:
            return record
        return record | {"message": self._signed_path(name)}

    def _signed_path(self, name: str, ttl_seconds: int = MEDIA_TTL_SECONDS) -> str:
        """The relative media path of ``name`` with a token valid for ``ttl_seconds`` from the fake's now."""
        expiry = self.server_time_ms() // 1000 + ttl_seconds
        return f"{MEDIA_PATH}{name}?e={expiry}&token={self._media_token(name, expiry)}"

    def _session_item(self, stored: _StoredMessage) -> dict[str, Any]:
        """A made message as ``listpage_v1`` shows it: ``message`` a compact JSON string whose
        ``msgCode``/``msgType``/``size`` are strings, as in the docs' example ("" size for text)."""
        record = self._fresh_link(stored.item)
        content = {
            "content": record["message"],
            "msgCode": str(record["msgCode"]),
            "msgType": str(record["msgType"]),
            "fileName": record["fileName"],
            "size": str(stored.size) if stored.size else "",
        }
        return {
            "id": record["id"],
            "sendUserNickName": record["nickName"] if record["roleType"] == "user" else "SYSTEM",
            "contentType": record["contentType"],
            "message": json.dumps(content, ensure_ascii=False, separators=_COMPACT),
            "createDate": record["createDate"],
        }
