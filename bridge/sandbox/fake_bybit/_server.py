"""The fake Bybit's HTTP face: routing, envelopes, injected faults, the signature check and the request budget."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bridge.sandbox._server import LoopbackServer
from bridge.sandbox.fake_bybit._chats import _ChatEndpoints
from bridge.sandbox.fake_bybit._params import _P2PError, _params_error
from bridge.sandbox.fake_bybit.constants import (
    BUDGET_WINDOW_SECONDS,
    CODE_API_KEY,
    CODE_OK,
    CODE_PATH_NOT_FOUND,
    CODE_RATE_LIMIT,
    CODE_SIGN,
    CODE_TIMESTAMP,
    DEFAULT_RECV_WINDOW,
    FUTURE_TOLERANCE_MS,
    HANG_SECONDS,
    MEDIA_PATH,
    ORDER_CHAT_PATHS,
    RATE_LIMIT_RESET_HEADER,
    READS_PER_SECOND,
    SESSION_API_PATHS,
    UPLOAD_PATH,
    WRITE_PATHS,
    WRITES_PER_SECOND,
    Fault,
    ListShape,
    Retirement,
)


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


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


class FakeBybit(_ChatEndpoints, LoopbackServer):
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
        super().__init__(self_user_id=self_user_id, self_nick=self_nick)
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
        self.serve_unread_counts = True
        """While False Bybit's answers leave out every unread count (``unreadCount``, ``selfUnreadMsgCount``,
        ``unreadMsgCount``), as a field that goes missing: the bridge has no hints at all."""
        self.media_host_down = False
        """While True the media host answers every download with 503, as during an outage."""
        self.requests: list[RecordedRequest] = []
        """Every request received, in arrival order."""
        self._faults: list[_Injected] = []
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
        valid = self._media.signature_holds(name, query) and int(query["e"]) >= self.server_time_ms() // 1000
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
