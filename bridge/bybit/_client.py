"""The signed, resilient Bybit v5 HTTP client (httpx, over aiohttp's transport: half the CPU per call)."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from types import TracebackType
from typing import Any, Self

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from bridge.bybit._signing import auth_headers
from bridge.bybit.budget import BudgetStats, Outcome
from bridge.bybit.constants import ContentType, RetCode
from bridge.bybit.models import (
    Account,
    ChatMessage,
    OrderInfo,
    OrderSummary,
    SessionMessage,
    SessionSummary,
    parse_items,
)
from bridge.errors import BybitAuthError, BybitError, BybitUnavailable, ChatApiRetired
from bridge.ratelimit import SlidingWindow

log = logging.getLogger(__name__)

# Bybit's return codes the client acts on.

RATE_LIMIT_RESET_HEADER = "X-Bapi-Limit-Reset-Timestamp"
IP_BAN_SECONDS = 600.0
MAX_RATE_LIMIT_WAIT = 30.0
BUDGET_MARGIN = 0.1  # seconds added to Bybit's 1 s window: it counts requests as they arrive, after the network
MESSAGE_PAGE_SIZE = 30  # Bybit's maximum for both chat list endpoints
ORDER_PAGE_SIZE = 30  # Bybit's maximum for the order lists
MAX_ORDER_PAGES = 50  # a safety stop: 1,500 open orders is far past any merchant's desk
SESSION_PAGE_SIZE = 20  # list_v1: 20 is known to work on mainnet, 50 was refused
UNREAD_ONLY, EVERY_SESSION = 0, 2  # list_v1 readStatus: 0 unread, 1 read, 2 all
SHRINK_FRACTION = 0.8  # after a 10006 or 403 the budget is cut to this share of itself…
SHRINK_SECONDS = 60.0  # …for this long
URGENT_RESERVE = 0.9  # share of the read budget only urgent reads may use (news Bybit hinted at, the hints, new orders)

URGENT_READS: ContextVar[bool] = ContextVar("urgent_reads", default=False)
"""Set in a task whose reads matter most (a chat Bybit says has news): they go first and may use the reserve."""

PATH_SERVER_TIME = "/v5/market/time"
PATH_ORDER_INFO = "/v5/p2p/order/info"
PATH_PERSONAL_INFO = "/v5/p2p/user/personal/info"
PATH_ORDER_MESSAGES = "/v5/p2p/order/message/listpage"
PATH_PENDING_ORDERS = "/v5/p2p/order/pending/simplifyList"
PATH_SESSION_ID = "/v5/p2p/chat/session/getSessionId"
PATH_SESSION_MESSAGES = "/v5/p2p/chat/message/listpage_v1"
PATH_SESSIONS = "/v5/p2p/chat/session/list_v1"
PATH_ORDER_SEND = "/v5/p2p/order/message/send"
PATH_UPLOAD = "/v5/p2p/oss/upload_file"
JSON = "application/json"
PATH_SESSION_SEND = "/v5/p2p/chat/message/send_v1"
ORDER_CHAT_PATHS = frozenset({PATH_ORDER_MESSAGES, PATH_ORDER_SEND})
"""The order-scoped chat API Bybit is retiring: its paths may answer 912200387, 404, a page that is not Bybit
JSON, or a generic "path not found" (bybit-p2p-api.md); each of those is the switch to the session chat."""
CLOSED_TEXT = re.compile(r"open api close|path not found", re.IGNORECASE)
JSON_ELSEWHERE_SECONDS = 120.0  # an order chat path that answers no JSON while another path did this recently is gone


def _envelope_code(payload: dict[str, Any]) -> tuple[int, str]:
    """Read ``retCode``/``retMsg`` (gateway form) or ``ret_code``/``ret_msg`` (P2P form)."""
    if "retCode" in payload:
        return int(payload["retCode"]), str(payload.get("retMsg", ""))
    return int(payload.get("ret_code", -1)), str(payload.get("ret_msg", ""))


def _refusal(path: str, code: int, message: str) -> BybitError:
    """The exception for a refusal the client does not retry."""
    if code in RetCode.auth():
        return BybitAuthError(code, message, endpoint=path)
    if code == RetCode.CHAT_API_CLOSED or (path in ORDER_CHAT_PATHS and CLOSED_TEXT.search(message)):
        return ChatApiRetired(code, message, endpoint=path)
    return BybitError(code, message, endpoint=path)


def _listed(items: object, path: str) -> list[object]:
    """The list a result holds (absent or null means empty); anything else is Bybit answering oddly."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise BybitError(-1, f"unexpected result shape ({type(items).__name__} instead of a list)", endpoint=path)
    return items


def _never_sent(exc: Exception) -> bool:
    """Whether a request surely never reached Bybit: no connection could be made for it."""
    return isinstance(exc, httpx.ConnectError) or isinstance(exc.__cause__, aiohttp.ClientConnectorError)


class BybitClient:
    """Async client for the Bybit P2P endpoints the bridge needs.

    Every request is signed over the exact bytes sent, paced to ``requests_per_second``, bounded by
    ``timeout`` and retried with jittered backoff on transient failures. Errors surface as the
    exception types of :mod:`bridge.errors`, never as raw HTTP errors.
    """

    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        base_url: str,
        recv_window: int = 5000,
        timeout: float = 10.0,
        requests_per_second: float = 10.0,
        writes_per_second: float = 5.0,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = api_key
        self._secret = api_secret
        self._recv_window = recv_window
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._wall_clock = wall_clock
        self._offset_ms = 0
        self._paused_until = 0.0
        self._json_answered_at = -math.inf  # when a path other than the order chat's last answered Bybit JSON
        self._budget = SlidingWindow.per_second(
            requests_per_second, margin=BUDGET_MARGIN, reserve=URGENT_RESERVE, smooth=True
        )
        self._reads_per_second = requests_per_second
        self.stats = BudgetStats(reads_per_second=requests_per_second)
        self._write_budget = SlidingWindow.per_second(writes_per_second, margin=BUDGET_MARGIN, smooth=True)
        self._http = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": "p2p-bridge"},
            transport=AiohttpTransport(),
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    @property
    def reads_per_second(self) -> float:
        """The read budget (requests a second) in force: lower for a while after Bybit said too many."""
        return self._reads_per_second * self._budget.in_force / self._budget.limit

    def read_delay(self, *, urgent: bool = False) -> float:
        """Seconds until one more read fits the budget (0: now); a caller may wait instead of queueing."""
        return max(self._budget.delay(urgent=urgent), self._paused_until - time.monotonic(), 0.0)

    # -- endpoints ---------------------------------------------------------------------------

    async def order_info(self, order_id: str) -> OrderInfo:
        """Order detail (``/v5/p2p/order/info``)."""
        result = await self.call(PATH_ORDER_INFO, {"orderId": order_id})
        return OrderInfo.model_validate(result)

    async def account(self) -> Account:
        """Who you are (``/v5/p2p/user/personal/info``)."""
        return Account.model_validate(await self.call(PATH_PERSONAL_INFO, {}))

    async def order_messages(self, order_id: str, page: int, size: int = MESSAGE_PAGE_SIZE) -> list[ChatMessage]:
        """One page (from 1) of an order's chat, newest first; accepts the bare and nested result shapes."""
        result = await self.call(
            PATH_ORDER_MESSAGES, {"orderId": order_id, "currentPage": str(page), "size": str(size)}
        )
        items = result.get("result") if isinstance(result, dict) else result
        return parse_items(ChatMessage, _listed(items, PATH_ORDER_MESSAGES), f"order {order_id}")

    async def pending_order_pages(self) -> list[list[OrderSummary]]:
        """Your open orders, newest first: every page of ``pending/simplifyList``, as Bybit listed it."""
        first, count = await self.pending_orders_page(1)
        return [first, *[(await self.pending_orders_page(page))[0] for page in range(2, count + 1)]]

    async def pending_orders_page(self, page: int) -> tuple[list[OrderSummary], int]:
        """One page of your open orders (from 1, newest first), and how many pages the list has now."""
        result = await self.call(PATH_PENDING_ORDERS, {"page": page, "size": ORDER_PAGE_SIZE})
        items = _listed(result.get("items") if isinstance(result, dict) else None, PATH_PENDING_ORDERS)
        orders = [OrderSummary.model_validate(item) for item in items if isinstance(item, dict)]
        total = result.get("count") if isinstance(result, dict) else None
        if len(items) < ORDER_PAGE_SIZE:
            pages = page
        elif str(total).isdigit():
            pages = max(page, -(-int(str(total)) // ORDER_PAGE_SIZE))
        else:
            pages = page + 1  # a full page and no count: there may be more
        return orders, min(pages, MAX_ORDER_PAGES)

    async def sessions(
        self, last_id: int = 0, *, stop: int = 0, unread_only: bool = True
    ) -> AsyncIterator[list[SessionSummary]]:
        """The chat sessions with unread messages (or all of them), newest first (``chat/session/list_v1``), a page at a
        time: one call, many chats.

        From the newest, or from below cursor ``last_id``; down to the oldest, or to cursor ``stop``.
        """
        for _ in range(MAX_ORDER_PAGES):
            status = UNREAD_ONLY if unread_only else EVERY_SESSION
            body = {"lastId": last_id, "size": SESSION_PAGE_SIZE, "readStatus": status}
            result = await self.call(PATH_SESSIONS, body)
            items = _listed(result.get("chatSession") if isinstance(result, dict) else None, PATH_SESSIONS)
            page = [SessionSummary.model_validate(item) for item in items if isinstance(item, dict)]
            yield page
            cursors = [item.cursor for item in page if item.cursor]
            if len(items) < SESSION_PAGE_SIZE or not cursors or min(cursors) <= stop:
                return
            last_id = min(cursors)

    async def session_id(self, user_mask_id: str) -> str:
        """The chat session with one counterparty (``getSessionId``)."""
        result = await self.call(PATH_SESSION_ID, {"userMaskId": user_mask_id})
        session = result.get("sessionId") if isinstance(result, dict) else None
        if not session:
            raise BybitError(-1, "no sessionId in the answer", endpoint=PATH_SESSION_ID)
        return str(session)

    async def session_messages(
        self, session_id: str, last_id: int = 0, limit: int = MESSAGE_PAGE_SIZE
    ) -> list[SessionMessage]:
        """One page of a session's chat, newest first; older than ``last_id`` unless it is 0."""
        body = {"sessionId": session_id, "lastId": last_id, "limit": limit}
        result = await self.call(PATH_SESSION_MESSAGES, body)
        items = result.get("messages") if isinstance(result, dict) else None
        return parse_items(SessionMessage, _listed(items, PATH_SESSION_MESSAGES), f"session {session_id[:8]}…")

    async def send_order_message(
        self, order_id: str, text: str, msg_uuid: str, content_type: ContentType = ContentType.TEXT
    ) -> None:
        """Send a text (or an uploaded file's path) into an order's chat; Bybit keeps one message per ``msg_uuid``."""
        body = {"message": text, "contentType": content_type, "orderId": order_id, "msgUuid": msg_uuid}
        await self.call(PATH_ORDER_SEND, body, write=True)

    async def send_session_message(
        self, session_id: str, order_id: str, text: str, content_type: ContentType = ContentType.TEXT
    ) -> None:
        """Send a text (or an uploaded file's path) into a counterparty's session; no idempotency key."""
        body = {"message": text, "contentType": content_type, "sessionId": session_id, "orderId": order_id}
        await self.call(PATH_SESSION_SEND, body, write=True, idempotent=False)

    async def upload_file(self, file_name: str, data: bytes, mime_type: str) -> str:
        """Upload a chat file (jpg, png, pdf, mp4) and return the path to send as its message.

        Signed over the exact multipart body bytes, as Bybit requires; uploading again is harmless.
        """
        boundary = f"p2p-bridge-{uuid.uuid4().hex}"
        safe_name = file_name.replace('"', "").replace("\r", "").replace("\n", "") or "file"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="upload_file"; filename="{safe_name}"\r\n'
            f"Content-Type: {mime_type}\r\n\r\n"
        )
        raw = head.encode() + data + f"\r\n--{boundary}--\r\n".encode()
        content_type = f"multipart/form-data; boundary={boundary}"
        result = await self._post(PATH_UPLOAD, raw, content_type, write=True, idempotent=True)
        url = result.get("url") if isinstance(result, dict) else None
        if not url:
            raise BybitError(-1, "no url in the answer", endpoint=PATH_UPLOAD)
        return str(url)

    # -- transport ---------------------------------------------------------------------------

    async def call(self, path: str, body: dict[str, Any], *, write: bool = False, idempotent: bool = True) -> Any:
        """POST a signed request and return its ``result``, retrying what is worth retrying.

        ``write`` calls spend the write budget (Bybit: 5 a second) instead of the read budget. A call
        that is not ``idempotent`` is never repeated once it may have reached Bybit (a timeout, a
        reset, a 5xx): it raises :class:`BybitUnavailable` and the caller checks before trying again.
        """
        raw = json.dumps(body, separators=(",", ":")).encode()
        return await self._post(path, raw, JSON, write=write, idempotent=idempotent)

    async def _post(self, path: str, raw: bytes, content_type: str, *, write: bool, idempotent: bool) -> Any:
        failure = "no attempt made"
        for attempt in range(1, self._max_attempts + 1):
            await self._wait_turn(path, write)
            try:
                headers = self._headers(raw) | {"Content-Type": content_type}
                self.stats.record(path)
                response = await self._http.post(path, content=raw, headers=headers)
            except (httpx.TransportError, aiohttp.ClientError) as exc:  # timeouts, refused and reset connections…
                self.stats.answered(path, Outcome.TRANSPORT_ERROR)  # …and answers that are not HTTP
                failure = f"{type(exc).__name__}"
                if not idempotent and not _never_sent(exc):
                    raise BybitUnavailable(0, f"no answer ({failure}): it may have arrived", endpoint=path) from None
                await self._backoff(path, attempt, failure)
                continue
            if response.status_code == 403:
                self.stats.answered(path, Outcome.HTTP_403)
                self._paused_until = time.monotonic() + IP_BAN_SECONDS
                self._shrink(self._write_budget if write else self._budget, "an IP ban (403)")
                raise BybitUnavailable(403, "access too frequent: IP banned, pausing calls", endpoint=path)
            if response.status_code == 404 and path in ORDER_CHAT_PATHS:
                raise ChatApiRetired(404, "HTTP 404: the order-scoped chat path is gone", endpoint=path)
            if response.status_code >= 500:
                self.stats.answered(path, Outcome.HTTP_5XX)
                failure = f"HTTP {response.status_code}"
                if not idempotent:
                    raise BybitUnavailable(0, f"{failure}: it may have arrived", endpoint=path)
                await self._backoff(path, attempt, failure)
                continue
            try:
                payload, code, message = self._envelope(path, response)
            except (ValueError, TypeError, AttributeError):
                self.stats.answered(path, Outcome.BAD_ANSWER)
                failure = f"HTTP {response.status_code} with a body that is not Bybit JSON"
                if attempt == self._max_attempts and self._gone(path):
                    raise ChatApiRetired(0, f"{failure}, while other paths answer", endpoint=path) from None
                await self._backoff(path, attempt, failure)
                continue
            self.stats.answered(path, code)
            if code == RetCode.OK:
                return payload.get("result")
            if code == RetCode.RATE_LIMIT:
                failure = f"{code} {message}"
                await self._wait_rate_limit(path, response, self._write_budget if write else self._budget)
                continue
            if code == RetCode.TIMESTAMP and attempt < self._max_attempts:
                failure = f"{code} {message}"
                await self.sync_clock()
                continue
            raise _refusal(path, code, message)
        raise BybitUnavailable(0, f"gave up after {self._max_attempts} attempts: {failure}", endpoint=path)

    def _envelope(self, path: str, response: httpx.Response) -> tuple[dict[str, Any], int, str]:
        """The answer's JSON with its code and message; raises ValueError (or kin) when it is not Bybit JSON."""
        payload = response.json()
        code, message = _envelope_code(payload)
        if path not in ORDER_CHAT_PATHS:
            self._json_answered_at = time.monotonic()
        return payload, code, message

    def _gone(self, path: str) -> bool:
        """Whether an order chat path that keeps answering no Bybit JSON is gone: other paths answer JSON."""
        return path in ORDER_CHAT_PATHS and time.monotonic() - self._json_answered_at < JSON_ELSEWHERE_SECONDS

    async def sync_clock(self) -> None:
        """Measure the offset between our clock and Bybit's (``/v5/market/time``)."""
        before = self._wall_clock()
        try:
            response = await self._http.get(PATH_SERVER_TIME)
            result = response.json()["result"]
        except (httpx.TransportError, ValueError, KeyError, TypeError) as exc:
            log.warning("bybit clock sync failed: %s", type(exc).__name__)
            return
        after = self._wall_clock()
        nano = result.get("timeNano")
        server_ms = int(nano) // 1_000_000 if nano else int(result["timeSecond"]) * 1000
        self._offset_ms = server_ms - int((before + after) / 2 * 1000)
        log.info("bybit clock offset is now %d ms", self._offset_ms)

    def now(self) -> float:
        """Bybit's clock now (epoch seconds: ours, corrected by the offset :meth:`sync_clock` measured)."""
        return self._wall_clock() + self._offset_ms / 1000

    def _headers(self, raw: bytes) -> dict[str, str]:
        timestamp = int(self._wall_clock() * 1000) + self._offset_ms
        return auth_headers(self._key, self._secret, timestamp, self._recv_window, raw)

    async def _wait_turn(self, path: str, write: bool) -> None:
        pause = self._paused_until - time.monotonic()
        if pause > 0:
            raise BybitUnavailable(403, f"calls paused for {pause:.0f} s after an IP ban", endpoint=path)
        await (self._write_budget if write else self._budget).acquire(urgent=URGENT_READS.get())

    async def _wait_rate_limit(self, path: str, response: httpx.Response, budget: SlidingWindow) -> None:
        reset = response.headers.get(RATE_LIMIT_RESET_HEADER, "")
        wait = 1.0
        if reset.isdigit():
            wait = int(reset) / 1000 - (self._wall_clock() + self._offset_ms / 1000)
        wait = min(max(wait, 0.05), MAX_RATE_LIMIT_WAIT)
        log.info("bybit rate limit on %s: waiting %.2f s", path, wait)
        budget.push_back(wait)  # (a smooth window: then one call a step)
        self._shrink(budget, "a rate-limit answer (10006)")

    def _shrink(self, budget: SlidingWindow, cause: str) -> None:
        """Spend less for a while after Bybit said we spent too much (other clients may share the key)."""
        before = budget.in_force
        limit = budget.shrink(SHRINK_FRACTION, SHRINK_SECONDS)
        if limit < before:
            log.warning("bybit budget cut to %d requests a second for %.0f s after %s", limit, SHRINK_SECONDS, cause)

    async def _backoff(self, path: str, attempt: int, failure: str) -> None:
        if attempt >= self._max_attempts:
            return
        delay = min(self._backoff_cap, self._backoff_base * 2 ** (attempt - 1))
        delay = random.uniform(delay / 2, delay)
        log.info("bybit %s failed (%s), retry %d in %.2f s", path, failure, attempt, delay)
        await asyncio.sleep(delay)
