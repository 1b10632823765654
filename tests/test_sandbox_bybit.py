"""The Bybit fake: accepted by the official pybit client, and faithful in paging, retirement, faults, media."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pybit.exceptions import InvalidRequestError  # type: ignore[import-untyped]
from pybit.unified_trading import HTTP  # type: ignore[import-untyped]

from bridge.sandbox import FakeBybit

KEY = "sandbox-key"
SECRET = "sandbox-secret"
LISTPAGE = "/v5/p2p/order/message/listpage"


def signed_headers(body: bytes, *, key: str = KEY, secret: str = SECRET, skew_ms: int = 0) -> dict[str, str]:
    """Bybit v5 HMAC headers, written here independently of the bridge's signing code."""
    timestamp = str(int(time.time() * 1000) + skew_ms)
    signature = hmac.new(secret.encode(), f"{timestamp}{key}5000".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-BAPI-API-KEY": key,
        "X-BAPI-TIMESTAMP": timestamp,
        "X-BAPI-RECV-WINDOW": "5000",
        "X-BAPI-SIGN": signature,
        "X-BAPI-SIGN-TYPE": "2",
        "Content-Type": "application/json",
    }


class Caller:
    """Signed POSTs to the fake with httpx."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def raw(self, path: str, body: dict[str, Any], **signing: Any) -> httpx.Response:
        content = json.dumps(body).encode()
        return await self.client.post(path, content=content, headers=signed_headers(content, **signing))

    async def __call__(self, path: str, body: dict[str, Any], **signing: Any) -> dict[str, Any]:
        response = await self.raw(path, body, **signing)
        assert response.status_code == 200
        payload: dict[str, Any] = response.json()
        return payload


@pytest.fixture
async def call(fake_bybit: FakeBybit) -> AsyncIterator[Caller]:
    async with httpx.AsyncClient(base_url=fake_bybit.url, timeout=5) as client:
        yield Caller(client)


def pybit_session(fake: FakeBybit, *, key: str = KEY, secret: str = SECRET) -> HTTP:
    session = HTTP(api_key=key, api_secret=secret, max_retries=1)
    session.endpoint = fake.url
    return session


async def test_pybit_signed_requests_are_accepted(fake_bybit: FakeBybit) -> None:
    order = fake_bybit.add_order()
    fake_bybit.post_message(order.id, "hello")
    fake_bybit.post_message(order.id, "paid?", sender="self")
    session = pybit_session(fake_bybit)

    detail = await asyncio.to_thread(session.get_order_details, orderId=order.id)
    chat = await asyncio.to_thread(session.get_chat_messages, orderId=order.id, size="10")

    assert detail["ret_code"] == 0
    assert detail["result"]["id"] == order.id
    assert detail["result"]["targetUserMaskId"] == order.target_mask_id
    assert [m["message"] for m in chat["result"]["result"]] == ["paid?", "hello"]
    assert fake_bybit.requests[-1].ret_code == 0


@pytest.mark.parametrize(
    ("key", "secret", "code"),
    [(KEY, "wrong-secret", 10004), ("unknown-key", SECRET, 10003)],
)
async def test_pybit_bad_credentials_are_refused(fake_bybit: FakeBybit, key: str, secret: str, code: int) -> None:
    order = fake_bybit.add_order()
    session = pybit_session(fake_bybit, key=key, secret=secret)

    with pytest.raises(InvalidRequestError) as caught:
        await asyncio.to_thread(session.get_order_details, orderId=order.id)

    assert caught.value.status_code == code


async def test_order_detail_and_param_errors(fake_bybit: FakeBybit, call: Caller) -> None:
    order = fake_bybit.add_order(side=0, counterparty_nick="SellerSam", quantity="10", price="90")

    result = (await call("/v5/p2p/order/info", {"orderId": order.id}))["result"]
    unknown = await call("/v5/p2p/order/info", {"orderId": "1"})
    malformed = await call("/v5/p2p/order/info", {"orderId": "abc"})

    assert len(order.id) == 19
    assert result["userId"] == "10001"
    assert result["nickName"] == "TeamMerchant"
    assert result["targetNickName"] == "SellerSam"
    assert result["sellerRealName"] == "Real SellerSam"
    assert result["amount"] == "900.00"
    assert result["status"] == 10
    assert int(result["transferLastSeconds"]) > 0
    assert len(result["paymentTermList"]) == 1
    assert (unknown["ret_code"], unknown["ret_msg"]) == (912100027, "The order does not exist.")
    assert malformed["ret_code"] == 10001


async def test_listpage_pages_newest_first(fake_bybit: FakeBybit, call: Caller) -> None:
    order = fake_bybit.add_order()
    posted = [fake_bybit.post_message(order.id, f"m{i}") for i in range(35)]
    system = fake_bybit.post_message(order.id, "Order paid", sender="system", msg_code=20)

    first = (await call(LISTPAGE, {"orderId": order.id, "size": "30"}))["result"]
    second = (await call(LISTPAGE, {"orderId": order.id, "size": "30", "currentPage": "2"}))["result"]
    too_big = await call(LISTPAGE, {"orderId": order.id, "size": "31"})

    assert (first["totalRows"], first["totalPages"], first["currentPage"]) == ("36", "2", "1")
    ids = [m["id"] for m in first["result"] + second["result"]]
    assert ids == [system["id"]] + [m["id"] for m in reversed(posted)]
    assert ids == sorted(ids, reverse=True)
    assert [int(m["createDate"]) for m in reversed(posted)] == sorted(int(m["createDate"]) for m in posted)[::-1]
    assert system["msgType"] == 0 and system["roleType"] == "sys" and system["userId"] == "10001"
    assert posted[0]["msgType"] == 1 and posted[0]["roleType"] == "user" and posted[0]["userId"] != "10001"
    assert set(posted[0]) >= {"msgUuid", "accountId", "isRead", "read", "onlyForCustomer", "fileName", "nickName"}
    assert too_big["ret_code"] == 10001


async def test_bare_list_shape() -> None:
    async with FakeBybit(list_shape="bare") as fake, httpx.AsyncClient(base_url=fake.url) as client:
        order = fake.add_order()
        fake.post_message(order.id, "hi")
        result = (await Caller(client)(LISTPAGE, {"orderId": order.id, "size": "5"}))["result"]
    assert [m["message"] for m in result] == ["hi"]


async def test_retirement_and_session_api(fake_bybit: FakeBybit, call: Caller) -> None:
    first = fake_bybit.add_order(counterparty_nick="Bob")
    second = fake_bybit.add_order(counterparty_nick="Bob")
    other = fake_bybit.add_order(counterparty_nick="Carol")
    a = fake_bybit.post_message(first.id, "first order")
    fake_bybit.post_message(other.id, "someone else")
    b = fake_bybit.post_message(second.id, "second order")
    c = fake_bybit.post_message(second.id, "released", sender="system")
    fake_bybit.retire_order_chat()

    retired = await call(LISTPAGE, {"orderId": first.id, "size": "30"})
    session = (await call("/v5/p2p/chat/session/getSessionId", {"userMaskId": first.target_mask_id}))["result"]
    newest = await call("/v5/p2p/chat/message/listpage_v1", {"sessionId": session["sessionId"], "limit": 2})
    older = await call(
        "/v5/p2p/chat/message/listpage_v1",
        {"sessionId": session["sessionId"], "limit": "30", "lastId": newest["result"]["messages"][-1]["id"]},
    )
    unknown = await call("/v5/p2p/chat/session/getSessionId", {"userMaskId": "nobody"})

    assert first.target_mask_id == second.target_mask_id != other.target_mask_id
    assert (retired["ret_code"], retired["ret_msg"]) == (912200387, "chat open api close, pls chat with new open api")
    page = newest["result"]["messages"]
    assert [m["id"] for m in page] == [c["id"], b["id"]]
    assert [m["id"] for m in older["result"]["messages"]] == [a["id"]]
    assert page[0]["sendUserNickName"] == "SYSTEM" and page[1]["sendUserNickName"] == "Bob"
    assert json.loads(page[1]["message"]) == {
        "content": "second order",
        "msgType": 1,
        "msgCode": 0,
        "fileName": "",
        "size": 0,
    }
    assert unknown["ret_code"] != 0 and unknown["ret_msg"]


async def test_send_endpoints(fake_bybit: FakeBybit, call: Caller) -> None:
    order = fake_bybit.add_order()
    body = {"orderId": order.id, "message": "thanks", "contentType": "str", "msgUuid": "u-1"}

    sent = await call("/v5/p2p/order/message/send", body)
    await call("/v5/p2p/order/message/send", body)  # a retry with the same msgUuid
    session = (await call("/v5/p2p/chat/session/getSessionId", {"userMaskId": order.target_mask_id}))["result"]
    v1 = await call(
        "/v5/p2p/chat/message/send_v1",
        {"sessionId": session["sessionId"], "orderId": order.id, "message": "via v1", "contentType": "str"},
    )
    fake_bybit.retire_order_chat()
    retired = await call("/v5/p2p/order/message/send", body | {"msgUuid": "u-2"})

    assert sent["ret_code"] == 0 and sent["result"] is None and v1["ret_code"] == 0
    assert [(m["message"], m["userId"]) for m in fake_bybit.messages(order.id)] == [
        ("thanks", "10001"),
        ("via v1", "10001"),
    ]
    assert retired["ret_code"] == 912200387


async def test_pending_orders(fake_bybit: FakeBybit, call: Caller) -> None:
    open_order = fake_bybit.add_order()
    fake_bybit.add_order(status=50)
    fake_bybit.post_message(open_order.id, "unread")

    result = (await call("/v5/p2p/order/pending/simplifyList", {"page": 1, "size": 10}))["result"]

    assert result["count"] == 1
    assert result["items"][0]["id"] == open_order.id
    assert result["items"][0]["selfUnreadMsgCount"] == "1"


async def test_server_time_and_clock_skew(fake_bybit: FakeBybit, call: Caller) -> None:
    order = fake_bybit.add_order()
    fake_bybit.clock_offset_ms = 60_000

    server = (await call.client.get("/v5/market/time")).json()
    behind = await call("/v5/p2p/order/info", {"orderId": order.id})
    synced = await call("/v5/p2p/order/info", {"orderId": order.id}, skew_ms=60_000)

    assert abs(int(server["result"]["timeNano"]) // 1_000_000 - (time.time() * 1000 + 60_000)) < 2_000
    assert behind["retCode"] == 10002
    assert behind["retMsg"].startswith("invalid request, please check your server timestamp or recv_window param.")
    assert synced["ret_code"] == 0


async def test_injected_faults(fake_bybit: FakeBybit, call: Caller) -> None:
    order = fake_bybit.add_order()
    body = {"orderId": order.id}
    fake_bybit.inject("rate_limit", reset_after_ms=500)
    fake_bybit.inject("server_error", path="/v5/p2p/order/info")
    fake_bybit.inject("timestamp")
    fake_bybit.inject("auth", times=2)

    limited = await call.raw("/v5/p2p/order/info", body)
    failed = await call.raw("/v5/p2p/order/info", body)
    stale = await call("/v5/p2p/order/info", body)
    denied = [await call("/v5/p2p/order/info", body) for _ in range(2)]
    fine = await call("/v5/p2p/order/info", body)

    assert limited.json()["retCode"] == 10006 and limited.json()["retMsg"] == "Too many visits!"
    reset_ms = int(limited.headers["X-Bapi-Limit-Reset-Timestamp"])
    assert 0 < reset_ms - time.time() * 1000 <= 600
    assert failed.status_code == 502
    assert stale["retCode"] == 10002
    assert [d["retCode"] for d in denied] == [10003, 10003]
    assert fine["ret_code"] == 0
    assert fake_bybit.calls_to("/v5/p2p/order/info") == 6
    assert [r.status for r in fake_bybit.requests] == [200, 502, 200, 200, 200, 200]


async def test_hang_times_out_client_and_stops_promptly() -> None:
    async with FakeBybit() as fake, httpx.AsyncClient(base_url=fake.url, timeout=0.2) as client:
        order = fake.add_order()
        fake.inject("hang")
        with pytest.raises(httpx.ReadTimeout):
            await Caller(client)("/v5/p2p/order/info", {"orderId": order.id})
        started = time.monotonic()
    assert time.monotonic() - started < 2
    assert fake.requests[0].status is not None  # answered (504) when the fake stopped


async def test_media_links_are_signed_and_expire(fake_bybit: FakeBybit, call: Caller) -> None:
    order = fake_bybit.add_order()
    record = fake_bybit.post_media(order.id, "pic", b"\x89PNG fake", "receipt.png")
    path = record["message"]

    served = await call.client.get(path)
    forged = await call.client.get(path.replace("token=", "token=0"))
    fake_bybit.clock_offset_ms = 3 * 3600 * 1000 + 5_000
    expired = await call.client.get(path)

    assert path.startswith("/fiat/p2p/oss/showObj/otc/9001/") and "?e=" in path and "&token=" in path
    assert (record["msgType"], record["contentType"], record["fileName"]) == (2, "pic", "receipt.png")
    assert fake_bybit.media_base == fake_bybit.url
    assert served.status_code == 200 and served.content == b"\x89PNG fake"
    assert served.headers["Content-Type"] == "image/png"
    assert forged.status_code == 403 and expired.status_code == 403


def test_network_guard_refuses_remote_hosts() -> None:
    with pytest.raises(RuntimeError, match="network access outside loopback is refused in tests"):
        socket.create_connection(("192.0.2.1", 80), timeout=0.1)
