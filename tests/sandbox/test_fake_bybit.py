"""The Bybit fake: accepted by the official pybit client, as strict as Bybit's docs about parameters, shaped
like the docs' examples, and faithful in paging, retirement, faults, media."""

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

from bridge.bybit._signing import auth_headers
from bridge.sandbox import FakeBybit
from bridge.sandbox.fake_bybit import UNREAD_COUNT_FIELDS
from tests.bybit_docs import FIXTURES, docs_example

KEY = "sandbox-key"
SECRET = "sandbox-secret"
LISTPAGE = "/v5/p2p/order/message/listpage"
ORDER_INFO = "/v5/p2p/order/info"
ORDER_SEND = "/v5/p2p/order/message/send"
PENDING = "/v5/p2p/order/pending/simplifyList"
SESSION_ID = "/v5/p2p/chat/session/getSessionId"
SESSIONS = "/v5/p2p/chat/session/list_v1"
SESSION_LIST = "/v5/p2p/chat/message/listpage_v1"
SESSION_SEND = "/v5/p2p/chat/message/send_v1"
UPLOAD = "/v5/p2p/oss/upload_file"
BOUNDARY = "sandbox-boundary"
PNG = b"\x89PNG\r\n\x1a\n\r\n--not-a-boundary\r\n\x00"  # CRLFs and dashes in the bytes must survive
DOCS_ORDER_ID = "1900004704665923584"  # the order id of the docs' examples
DOCS_CHAT_ORDER_ID = "1898976123321221120"  # the one of the order-scoped chat examples


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()
"""In a body change: leave the parameter out."""


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

    result = (await call(ORDER_INFO, {"orderId": order.id}))["result"]
    unknown = await call(ORDER_INFO, {"orderId": "1"})
    malformed = await call(ORDER_INFO, {"orderId": "abc"})

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

    assert len(first["result"]) == 30 and len(second["result"]) == 6
    ids = [m["id"] for m in first["result"] + second["result"]]
    assert ids == [system["id"]] + [m["id"] for m in reversed(posted)]
    assert ids == sorted(ids, reverse=True)
    assert [int(m["createDate"]) for m in reversed(posted)] == sorted(int(m["createDate"]) for m in posted)[::-1]
    assert system["msgType"] == 0 and system["roleType"] == "sys" and system["userId"] == "10001"
    assert posted[0]["msgType"] == 1 and posted[0]["roleType"] == "user" and posted[0]["userId"] != "10001"
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
    session = (await call(SESSION_ID, {"userMaskId": first.target_mask_id}))["result"]
    newest = await call(SESSION_LIST, {"sessionId": session["sessionId"], "lastId": 0, "limit": 2})
    oldest_id = int(newest["result"]["messages"][-1]["id"])
    older = await call(SESSION_LIST, {"sessionId": session["sessionId"], "lastId": oldest_id, "limit": 30})
    unknown = await call(SESSION_ID, {"userMaskId": "nobody"})

    assert first.target_mask_id == second.target_mask_id != other.target_mask_id
    assert (retired["ret_code"], retired["ret_msg"]) == (912200387, "chat open api close, pls chat with new open api")
    page = newest["result"]["messages"]
    assert [m["id"] for m in page] == [c["id"], b["id"]]
    assert [m["id"] for m in older["result"]["messages"]] == [a["id"]]
    assert page[0]["sendUserNickName"] == "SYSTEM" and page[1]["sendUserNickName"] == "Bob"
    assert page[1]["message"] == '{"content":"second order","msgCode":"0","msgType":"1","fileName":"","size":""}'
    assert unknown["ret_code"] != 0 and unknown["ret_msg"]


async def test_send_endpoints(fake_bybit: FakeBybit, call: Caller) -> None:
    order = fake_bybit.add_order()
    body = {"orderId": order.id, "message": "thanks", "contentType": "str", "msgUuid": "u-1"}

    sent = await call("/v5/p2p/order/message/send", body)
    await call("/v5/p2p/order/message/send", body)  # a retry with the same msgUuid
    session = (await call(SESSION_ID, {"userMaskId": order.target_mask_id}))["result"]
    v1 = await call(
        SESSION_SEND,
        {"sessionId": session["sessionId"], "orderId": order.id, "message": "via v1", "contentType": "str"},
    )
    fake_bybit.retire_order_chat()
    retired = await call("/v5/p2p/order/message/send", body | {"msgUuid": "u-2"})

    assert sent["ret_code"] == 0 and sent["result"] is None and v1 == {"ret_code": 0, "ret_msg": ""}
    assert [(m["message"], m["userId"]) for m in fake_bybit.messages(order.id)] == [
        ("thanks", "10001"),
        ("via v1", "10001"),
    ]
    assert retired["ret_code"] == 912200387


async def test_pending_orders(fake_bybit: FakeBybit, call: Caller) -> None:
    open_order = fake_bybit.add_order()
    fake_bybit.add_order(status=50)
    fake_bybit.post_message(open_order.id, "unread")

    result = (await call(PENDING, {"page": 1, "size": 10}))["result"]

    assert result["count"] == 1
    assert result["items"][0]["id"] == open_order.id
    assert result["items"][0]["selfUnreadMsgCount"] == "1"
    assert result["items"][0]["targetUserMaskId"] == open_order.target_mask_id


async def test_server_time_and_clock_skew(fake_bybit: FakeBybit, call: Caller) -> None:
    order = fake_bybit.add_order()
    fake_bybit.clock_offset_ms = 60_000

    server = (await call.client.get("/v5/market/time")).json()
    behind = await call(ORDER_INFO, {"orderId": order.id})
    synced = await call(ORDER_INFO, {"orderId": order.id}, skew_ms=60_000)

    assert abs(int(server["result"]["timeNano"]) // 1_000_000 - (time.time() * 1000 + 60_000)) < 2_000
    assert behind["retCode"] == 10002
    assert behind["retMsg"].startswith("invalid request, please check your server timestamp or recv_window param.")
    assert synced["ret_code"] == 0


async def test_injected_faults(fake_bybit: FakeBybit, call: Caller) -> None:
    order = fake_bybit.add_order()
    body = {"orderId": order.id}
    fake_bybit.inject("rate_limit", reset_after_ms=500)
    fake_bybit.inject("server_error", path=ORDER_INFO)
    fake_bybit.inject("timestamp")
    fake_bybit.inject("auth", times=2)
    fake_bybit.inject("sign")

    limited = await call.raw(ORDER_INFO, body)
    failed = await call.raw(ORDER_INFO, body)
    stale = await call(ORDER_INFO, body)
    denied = [await call(ORDER_INFO, body) for _ in range(2)]
    unsigned = await call(ORDER_INFO, body)
    fine = await call(ORDER_INFO, body)

    assert limited.json()["retCode"] == 10006 and limited.json()["retMsg"] == "Too many visits!"
    reset_ms = int(limited.headers["X-Bapi-Limit-Reset-Timestamp"])
    assert 0 < reset_ms - time.time() * 1000 <= 600
    assert failed.status_code == 502
    assert stale["retCode"] == 10002
    assert [d["retCode"] for d in denied] == [10003, 10003]
    assert unsigned["retCode"] == 10004 and unsigned["retMsg"].startswith("error sign! origin_string[")
    assert f"{fake_bybit.api_key}5000{json.dumps(body)}]" in unsigned["retMsg"]  # quotes the key, as Bybit does
    assert fine["ret_code"] == 0
    assert fake_bybit.calls_to(ORDER_INFO) == 7
    assert [r.status for r in fake_bybit.requests] == [200, 502, 200, 200, 200, 200, 200]


async def test_hang_times_out_client_and_stops_promptly() -> None:
    async with FakeBybit() as fake, httpx.AsyncClient(base_url=fake.url, timeout=0.2) as client:
        order = fake.add_order()
        fake.inject("hang")
        with pytest.raises(httpx.ReadTimeout):
            await Caller(client)(ORDER_INFO, {"orderId": order.id})
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


# -- Bybit's docs: their example requests are accepted, their response shapes matched ----------------


def shape(value: Any) -> Any:
    """A payload's field names and JSON types: objects by key, a list of objects by its first item."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value and isinstance(value[0], dict) else "list"
    return type(value).__name__


async def session_of(call: Caller, mask_id: str) -> str:
    session_id: str = (await call(SESSION_ID, {"userMaskId": mask_id}))["result"]["sessionId"]
    return session_id


@pytest.fixture
async def docs_world(fake_bybit: FakeBybit, call: Caller) -> dict[str, dict[str, Any]]:
    """The docs' two orders with BuyerBob (a message each) and, per example file, its request for this fake."""
    order = fake_bybit.add_order(DOCS_ORDER_ID)
    chat_order = fake_bybit.add_order(DOCS_CHAT_ORDER_ID)
    fake_bybit.post_message(chat_order.id, "hello")
    fake_bybit.post_media(order.id, "pic", b"\x89PNG fake", "payment-proof.png", sender="self")
    own_ids = {"userMaskId": order.target_mask_id, "sessionId": await session_of(call, order.target_mask_id)}
    names = sorted(path.stem for path in FIXTURES.glob("*.json"))
    examples = {name: docs_example(name) for name in names if name != "chat_message_listpage"}  # path not served
    for example in examples.values():
        request = example["request"]
        example["request"] = request | {key: own_ids[key] for key in request if key in own_ids}
    return examples


async def test_docs_example_requests_are_accepted(docs_world: dict[str, dict[str, Any]], call: Caller) -> None:
    answers = {name: await call(example["endpoint"], example["request"]) for name, example in docs_world.items()}

    assert {name: answer["ret_code"] for name, answer in answers.items()} == dict.fromkeys(docs_world, 0)
    assert len(answers) == 9


async def test_answers_have_the_docs_fields_and_types(docs_world: dict[str, dict[str, Any]], call: Caller) -> None:
    for name, example in docs_world.items():
        answer = await call(example["endpoint"], example["request"])
        assert shape(answer) == shape(example["response"]), name


async def test_session_message_json_is_shaped_like_the_docs(
    docs_world: dict[str, dict[str, Any]], call: Caller
) -> None:
    example = docs_world["chat_message_listpage_v1"]
    served = (await call(SESSION_LIST, example["request"]))["result"]["messages"]
    documented = example["response"]["result"]["messages"]

    assert [m["contentType"] for m in served] == ["pic", "str"]  # the docs' example also shows an image
    for ours, theirs in zip(served, documented, strict=True):
        assert shape(json.loads(ours["message"])) == shape(json.loads(theirs["message"]))
        assert ours["message"].startswith('{"content":')  # compact JSON, keys in the docs' order
    assert json.loads(served[0]["message"])["size"] == "9"


async def test_docs_order_messages_are_served_as_given(fake_bybit: FakeBybit, call: Caller) -> None:
    example = docs_example("order_message_listpage")
    [item] = example["response"]["result"]["result"]
    order = fake_bybit.add_order(item["orderId"])
    newer = fake_bybit.post_message(order.id, "made by the fake")
    returned = fake_bybit.post_raw_order_message(order.id, item)
    session = await session_of(call, order.target_mask_id)

    page = await call(LISTPAGE, example["request"] | {"size": "30"})
    in_session = (await call(SESSION_LIST, {"sessionId": session, "lastId": 0, "limit": 30}))["result"]["messages"]

    assert returned == item
    assert page["result"]["result"] == [newer, item]  # the docs' id is older than the fake's own
    assert fake_bybit.messages(order.id)[1] == item
    assert [m["id"] for m in in_session] == [newer["id"]]  # a raw order item stays out of the session


@pytest.mark.parametrize("name", ["chat_message_listpage_v1", "chat_message_listpage"])
async def test_docs_session_messages_are_served_as_given(fake_bybit: FakeBybit, call: Caller, name: str) -> None:
    documented = docs_example(name)["response"]["result"]["messages"]
    order = fake_bybit.add_order(counterparty_nick="Saaaul")
    fake_bybit.add_order(counterparty_nick="Other")
    for item in reversed(documented):  # oldest first, like a chat
        fake_bybit.post_raw_session_message("Saaaul", item)
    session = await session_of(call, order.target_mask_id)

    response = await call.raw(SESSION_LIST, {"sessionId": session, "lastId": 0, "limit": 30})
    newest = await call(SESSION_LIST, {"sessionId": session, "lastId": 0, "limit": 1})
    older = await call(SESSION_LIST, {"sessionId": session, "lastId": int(documented[0]["id"]), "limit": 30})

    assert response.json()["result"]["messages"] == documented
    assert json.dumps(documented[0]["message"]) in response.text  # the JSON string inside, byte for byte
    assert newest["result"]["messages"] == documented[:1]
    assert older["result"]["messages"] == documented[1:]


async def test_raw_items_need_a_known_counterparty_and_a_numeric_id(fake_bybit: FakeBybit) -> None:
    order = fake_bybit.add_order()
    item = docs_example("chat_message_listpage_v1")["response"]["result"]["messages"][0]

    with pytest.raises(KeyError):
        fake_bybit.post_raw_session_message("Nobody", item)
    with pytest.raises(KeyError):
        fake_bybit.post_raw_order_message("1", item)
    with pytest.raises(ValueError, match="numeric id"):
        fake_bybit.post_raw_session_message("BuyerBob", item | {"id": ""})
    assert fake_bybit.post_raw_order_message(order.id, item | {"id": 7}) == item | {"id": 7}


# -- request parameters, as strict as the docs' tables -------------------------------------------------


@pytest.fixture
async def bodies(fake_bybit: FakeBybit, call: Caller) -> dict[str, dict[str, Any]]:
    """A valid body for each endpoint, about one order with BuyerBob."""
    order = fake_bybit.add_order()
    session = await session_of(call, order.target_mask_id)
    return {
        ORDER_INFO: {"orderId": order.id},
        PENDING: {"page": 1, "size": 30},
        LISTPAGE: {"orderId": order.id, "size": "30", "currentPage": "1"},
        ORDER_SEND: {"message": "hi", "contentType": "str", "orderId": order.id, "msgUuid": "u-1"},
        SESSION_ID: {"userMaskId": order.target_mask_id},
        SESSIONS: {"lastId": 0, "size": 10, "readStatus": 2},
        SESSION_LIST: {"sessionId": session, "lastId": 0, "limit": 30},
        SESSION_SEND: {"message": "hi", "contentType": "str", "sessionId": session, "orderId": order.id},
    }


def changed(body: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in (body | change).items() if value is not MISSING}


def case_id(path: str, change: dict[str, Any]) -> str:
    """E.g. ``listpage_v1 lastId='0'`` (long values cut)."""
    return " ".join([path.rsplit("/", 1)[-1], *(f"{key}={value!r:.24}" for key, value in change.items())])


REFUSED: list[tuple[str, dict[str, Any]]] = [
    (ORDER_INFO, {"orderId": MISSING}),
    (ORDER_INFO, {"orderId": 1898976123321221121}),
    (ORDER_INFO, {"orderId": "abc"}),
    (PENDING, {"page": "1"}),
    (PENDING, {"page": 0}),
    (PENDING, {"page": MISSING}),
    (PENDING, {"size": "30"}),
    (PENDING, {"size": 31}),
    (PENDING, {"size": MISSING}),
    (PENDING, {"status": "10"}),
    (PENDING, {"status": 50}),
    (PENDING, {"side": "1"}),
    (PENDING, {"side": 2}),
    (PENDING, {"tokenId": 1}),
    (PENDING, {"beginTime": 1741831397000}),
    (PENDING, {"endTime": "yesterday"}),
    (LISTPAGE, {"orderId": 1898976123321221121}),
    (LISTPAGE, {"size": 30}),
    (LISTPAGE, {"size": "31"}),
    (LISTPAGE, {"size": "0"}),
    (LISTPAGE, {"size": MISSING}),
    (LISTPAGE, {"currentPage": 1}),
    (LISTPAGE, {"currentPage": "0"}),
    (ORDER_SEND, {"message": MISSING}),
    (ORDER_SEND, {"contentType": MISSING}),
    (ORDER_SEND, {"contentType": "STR"}),
    (ORDER_SEND, {"msgUuid": MISSING}),
    (ORDER_SEND, {"msgUuid": 1}),
    (ORDER_SEND, {"fileName": 1}),
    (ORDER_SEND, {"contentType": "pic"}),  # a media send's message must be an uploaded file's URL
    (SESSION_ID, {"userMaskId": MISSING}),
    (SESSION_ID, {"userMaskId": ""}),
    (SESSION_ID, {"userMaskId": 1}),
    (SESSIONS, {"lastId": "0"}),
    (SESSIONS, {"lastId": MISSING}),
    (SESSIONS, {"size": "10"}),
    (SESSIONS, {"size": 0}),
    (SESSIONS, {"readStatus": "2"}),
    (SESSIONS, {"readStatus": 3}),
    (SESSIONS, {"readStatus": MISSING}),
    (SESSIONS, {"type": "PRIVATE"}),
    (SESSION_LIST, {"lastId": "0"}),
    (SESSION_LIST, {"lastId": None}),
    (SESSION_LIST, {"lastId": MISSING}),
    (SESSION_LIST, {"lastId": -1}),
    (SESSION_LIST, {"lastId": False}),
    (SESSION_LIST, {"limit": "30"}),
    (SESSION_LIST, {"limit": 31}),
    (SESSION_LIST, {"limit": 0}),
    (SESSION_LIST, {"limit": MISSING}),
    (SESSION_LIST, {"sessionId": MISSING}),
    (SESSION_LIST, {"sessionId": 1}),
    (SESSION_SEND, {"message": "x" * 1001}),
    (SESSION_SEND, {"message": ""}),
    (SESSION_SEND, {"message": MISSING}),
    (SESSION_SEND, {"contentType": MISSING}),
    (SESSION_SEND, {"contentType": "STR"}),
    (SESSION_SEND, {"contentType": "video"}),
    (SESSION_SEND, {"sessionId": MISSING}),
    (SESSION_SEND, {"orderId": MISSING}),
    (SESSION_SEND, {"orderId": 1898976123321221121}),
]


@pytest.mark.parametrize(("path", "change"), REFUSED, ids=[case_id(*case) for case in REFUSED])
async def test_wrong_parameters_are_refused(
    bodies: dict[str, dict[str, Any]], call: Caller, path: str, change: dict[str, Any]
) -> None:
    answer = await call(path, changed(bodies[path], change))

    assert (answer["ret_code"], answer["ret_msg"]) == (10001, "params error")
    assert set(answer) == {"ret_code", "ret_msg", "result", "ext_code", "ext_info", "time_now"}


ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    (ORDER_INFO, {}),
    (PENDING, {"status": None, "beginTime": None, "endTime": None, "tokenId": None, "side": None}),
    (PENDING, {"status": 10, "side": 1, "tokenId": "USDT", "beginTime": "0", "endTime": ""}),
    (LISTPAGE, {"currentPage": MISSING}),
    (ORDER_SEND, {"fileName": "receipt.png"}),
    (SESSION_ID, {}),
    (SESSIONS, {"type": "SINGLE", "readStatus": 0}),
    (SESSION_LIST, {"lastId": 1900000000000000001, "limit": 1}),
    (SESSION_SEND, {"message": "x" * 1000}),
]


@pytest.mark.parametrize(("path", "change"), ACCEPTED, ids=[case_id(*case) for case in ACCEPTED])
async def test_right_parameters_are_accepted(
    bodies: dict[str, dict[str, Any]], call: Caller, path: str, change: dict[str, Any]
) -> None:
    answer = await call(path, changed(bodies[path], change))

    assert answer["ret_code"] == 0


async def test_send_v1_refuses_an_order_with_someone_else(
    bodies: dict[str, dict[str, Any]], fake_bybit: FakeBybit, call: Caller
) -> None:
    other = fake_bybit.add_order(counterparty_nick="Carol")

    answer = await call(SESSION_SEND, bodies[SESSION_SEND] | {"orderId": other.id})

    assert answer["ret_code"] == 10001


# -- filters and cursors ------------------------------------------------------------------------------


async def test_pending_filters(fake_bybit: FakeBybit, call: Caller) -> None:
    sell = fake_bybit.add_order(side=1, status=10)
    buy = fake_bybit.add_order(side=0, status=20, token="BTC")
    fake_bybit.add_order(status=40)

    def ids(answer: dict[str, Any]) -> list[str]:
        return [item["id"] for item in answer["result"]["items"]]

    everything = await call(PENDING, {"page": 1, "size": 30})
    second_page = await call(PENDING, {"page": 2, "size": 1})
    selling = await call(PENDING, {"page": 1, "size": 30, "side": 1})
    paid = await call(PENDING, {"page": 1, "size": 30, "status": 20})
    btc = await call(PENDING, {"page": 1, "size": 30, "tokenId": "BTC"})
    later = await call(PENDING, {"page": 1, "size": 30, "beginTime": str(buy.create_ms + 1)})

    assert ids(everything) == [buy.id, sell.id] and everything["result"]["count"] == 2
    assert ids(second_page) == [sell.id] and second_page["result"]["count"] == 2
    assert ids(selling) == [sell.id] and ids(paid) == [buy.id] and ids(btc) == [buy.id]
    assert ids(later) == []


async def test_session_list_pages_and_read_status(fake_bybit: FakeBybit, call: Caller) -> None:
    bob = fake_bybit.add_order(counterparty_nick="Bob")
    fake_bybit.add_order(counterparty_nick="Carol")
    fake_bybit.post_message(bob.id, "unread")

    def names(answer: dict[str, Any]) -> list[str]:
        return [session["sessionName"] for session in answer["result"]["chatSession"]]

    everyone = await call(SESSIONS, {"lastId": 0, "size": 10, "readStatus": 2})
    first = await call(SESSIONS, {"lastId": 0, "size": 1, "readStatus": 2})
    cursor = int(first["result"]["chatSession"][0]["id"])
    rest = await call(SESSIONS, {"lastId": cursor, "size": 1, "readStatus": 2})
    unread = await call(SESSIONS, {"lastId": 0, "size": 10, "readStatus": 0})
    read = await call(SESSIONS, {"lastId": 0, "size": 10, "readStatus": 1})
    groups = await call(SESSIONS, {"lastId": 0, "size": 10, "readStatus": 2, "type": "GROUP"})

    assert names(everyone) == ["Carol", "Bob"]
    assert names(first) == ["Carol"] and names(rest) == ["Bob"]
    assert names(unread) == ["Bob"] and names(read) == ["Carol"] and names(groups) == []
    bob_session = everyone["result"]["chatSession"][1]
    assert bob_session["unreadCount"] == "1" and bob_session["type"] == "SINGLE"
    assert bob_session["sessionId"] == await session_of(call, bob.target_mask_id)


# -- chat file upload ------------------------------------------------------------------------------------


def multipart(
    data: bytes, file_name: str, *, name: str = "upload_file", part_type: str | None = "image/png", parts: int = 1
) -> bytes:
    """An upload body framed by hand as RFC 7578 does (``parts`` copies of the one part)."""
    head = f'Content-Disposition: form-data; name="{name}"; filename="{file_name}"\r\n'
    if part_type is not None:
        head += f"Content-Type: {part_type}\r\n"
    part = f"--{BOUNDARY}\r\n{head}\r\n".encode() + data + b"\r\n"
    return part * parts + f"--{BOUNDARY}--\r\n".encode()


async def upload(call: Caller, body: bytes, *, secret: str = SECRET) -> dict[str, Any]:
    """POST ``body`` to the upload endpoint, signed over its exact bytes with the bridge's signing code."""
    headers = auth_headers(KEY, secret, int(time.time() * 1000), 5000, body)
    headers["Content-Type"] = f"multipart/form-data; boundary={BOUNDARY}"
    response = await call.client.post(UPLOAD, content=body, headers=headers)
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


async def test_upload_answers_like_the_docs_example(fake_bybit: FakeBybit, call: Caller) -> None:
    answer = await upload(call, multipart(PNG, "grub.png"))
    url = answer["result"]["url"]
    served = await call.client.get(url)

    assert set(answer) == {"result", "token", "ret_code", "ret_msg"}
    assert (answer["ret_code"], answer["token"]) == (0, None)
    assert answer["result"] | {"url": ""} == {"uploadId": None, "type": "IMAGE", "url": ""}
    assert url.startswith("/fiat/p2p/oss/showObj/otc/9001/") and url.split("?")[0].endswith(".png")
    expiry = int(url.split("?e=")[1].split("&")[0])
    assert abs(expiry - fake_bybit.server_time_ms() // 1000 - 72 * 3600) <= 2
    assert served.status_code == 200 and served.content == PNG
    assert fake_bybit.calls_to(UPLOAD) == 1 and fake_bybit.requests[-2].ret_code == 0


@pytest.mark.parametrize(
    ("file_name", "upload_type"),
    [("a.JPG", "IMAGE"), ("a.jpeg", "IMAGE"), ("statement.pdf", "PDF"), ("clip.mp4", "VIDEO")],
)
async def test_upload_accepts_the_documented_types(call: Caller, file_name: str, upload_type: str) -> None:
    answer = await upload(call, multipart(b"data", file_name, part_type="application/octet-stream"))

    assert (answer["ret_code"], answer["result"]["type"]) == (0, upload_type)


@pytest.mark.parametrize(
    "body",
    [
        multipart(PNG, "notes.txt"),
        multipart(PNG, "archive.png.zip"),
        multipart(PNG, "noextension"),
        multipart(b"", "empty.png"),
        multipart(PNG, "a.png", name="file"),
        multipart(PNG, "a.png", part_type=None),
        multipart(PNG, "a.png", parts=2),
        multipart(PNG, "a.png").removesuffix(b"\r\n").removesuffix(b"--"),  # never closed
        b"",
    ],
    ids=["txt", "zip", "no-extension", "empty", "wrong-name", "no-content-type", "two-parts", "unclosed", "no-body"],
)
async def test_upload_refuses_anything_else(fake_bybit: FakeBybit, call: Caller, body: bytes) -> None:
    answer = await upload(call, body)

    assert (answer["ret_code"], answer["ret_msg"]) == (10001, "params error")
    assert set(answer) == {"ret_code", "ret_msg", "result", "ext_code", "ext_info", "time_now"}


async def test_upload_is_signed_over_the_multipart_bytes(fake_bybit: FakeBybit, call: Caller) -> None:
    body = multipart(PNG, "a.png")
    headers = auth_headers(KEY, SECRET, int(time.time() * 1000), 5000, multipart(PNG + b"!", "a.png"))
    headers["Content-Type"] = f"multipart/form-data; boundary={BOUNDARY}"

    other_body = (await call.client.post(UPLOAD, content=body, headers=headers)).json()
    wrong_secret = await upload(call, body, secret="wrong-secret")

    assert other_body["retCode"] == 10004 and wrong_secret["retCode"] == 10004


async def test_upload_faults_apply(fake_bybit: FakeBybit, call: Caller) -> None:
    fake_bybit.inject("rate_limit", path=UPLOAD)

    limited = await upload(call, multipart(PNG, "a.png"))
    accepted = await upload(call, multipart(PNG, "a.png"))

    assert (limited["retCode"], accepted["ret_code"]) == (10006, 0)
    assert fake_bybit.calls_to(UPLOAD) == 2


async def test_pybit_uploads_a_file(fake_bybit: FakeBybit) -> None:
    session = pybit_session(fake_bybit)

    answer = await asyncio.to_thread(session.upload_chat_file, upload_file=PNG, filename="proof.jpg")

    assert (answer["ret_code"], answer["result"]["type"]) == (0, "IMAGE")


async def test_uploaded_files_are_sent_and_listed_as_media(fake_bybit: FakeBybit, call: Caller) -> None:
    order = fake_bybit.add_order()
    session = await session_of(call, order.target_mask_id)
    image_url = (await upload(call, multipart(PNG, "proof.png")))["result"]["url"]
    pdf_url = (await upload(call, multipart(b"%PDF-1.4", "bill.pdf")))["result"]["url"]
    send = {"contentType": "pic", "message": image_url, "orderId": order.id, "msgUuid": "u-1", "fileName": "proof.png"}
    send_v1 = {"contentType": "pdf", "message": pdf_url, "orderId": order.id, "sessionId": session}

    by_order = await call(ORDER_SEND, send)
    by_session = await call(SESSION_SEND, send_v1)
    listed = (await call(LISTPAGE, {"orderId": order.id, "size": "30"}))["result"]["result"]
    items = (await call(SESSION_LIST, {"sessionId": session, "lastId": 0, "limit": 30}))["result"]["messages"]
    pdf_content = json.loads(items[0]["message"])
    served = await call.client.get(listed[1]["message"])

    assert (by_order["ret_code"], by_session["ret_code"]) == (0, 0)
    assert [(m["msgType"], m["contentType"], m["fileName"]) for m in listed] == [
        (7, "pdf", "bill.pdf"),
        (2, "pic", "proof.png"),
    ]
    assert listed[1]["message"] != image_url and listed[1]["message"].split("?")[0] == image_url.split("?")[0]
    assert served.content == PNG
    assert [fake_bybit.media_of(record) for record in listed] == [(b"%PDF-1.4", "bill.pdf"), (PNG, "proof.png")]
    assert fake_bybit.media_of(fake_bybit.messages(order.id)[0]) == (PNG, "proof.png")
    assert pdf_content | {"content": ""} == {
        "content": "",
        "msgCode": "0",
        "msgType": "7",
        "fileName": "bill.pdf",
        "size": "8",
    }


async def test_media_sends_need_a_url_of_the_right_kind(fake_bybit: FakeBybit, call: Caller) -> None:
    order = fake_bybit.add_order()
    url = (await upload(call, multipart(PNG, "proof.png")))["result"]["url"]
    send = {"orderId": order.id, "msgUuid": "u-1"}

    as_pdf = await call(ORDER_SEND, send | {"contentType": "pdf", "message": url})
    forged = await call(ORDER_SEND, send | {"contentType": "pic", "message": url.replace("token=", "token=0")})
    foreign = await call(ORDER_SEND, send | {"contentType": "pic", "message": "https://example.com/a.png"})
    text = await call(ORDER_SEND, send | {"contentType": "str", "message": url})

    assert [a["ret_code"] for a in (as_pdf, forged, foreign, text)] == [10001, 10001, 10001, 0]
    assert fake_bybit.media_of(fake_bybit.messages(order.id)[0]) == (PNG, "proof.png")  # a str record with a URL
    assert fake_bybit.media_of({"message": "hello"}) is None


# -- latency and the request budget ---------------------------------------------------------------------


def ret_code(answer: dict[str, Any]) -> int:
    """An answer's code in either envelope: the gateway's ``retCode`` or the P2P ``ret_code``."""
    return int(answer["retCode"] if "retCode" in answer else answer["ret_code"])


async def test_delay_holds_every_signed_answer() -> None:
    async with FakeBybit(delay=0.3) as fake, httpx.AsyncClient(base_url=fake.url) as client:
        order = fake.add_order()
        started = time.monotonic()
        answer = await Caller(client)(ORDER_INFO, {"orderId": order.id})
        took = time.monotonic() - started
        refused = await Caller(client)(ORDER_INFO, {"orderId": order.id}, secret="wrong-secret")
        clock_started = time.monotonic()
        await client.get("/v5/market/time")
        clock_took = time.monotonic() - clock_started

    assert answer["ret_code"] == 0 and refused["retCode"] == 10004
    assert 0.3 <= took < 1.0
    assert clock_took < 0.3  # the public clock is not a signed call


async def test_reads_past_ten_a_second_are_refused_until_the_window_frees(fake_bybit: FakeBybit, call: Caller) -> None:
    order = fake_bybit.add_order()
    body = {"orderId": order.id}

    burst = await asyncio.gather(*(call.raw(ORDER_INFO, body) for _ in range(12)))
    answered_ms = time.time() * 1000
    codes = sorted(ret_code(response.json()) for response in burst)
    [limited, *_] = [response for response in burst if "retCode" in response.json()]
    reset_ms = int(limited.headers["X-Bapi-Limit-Reset-Timestamp"])
    await asyncio.sleep(max(0.0, reset_ms / 1000 - time.time()) + 0.02)
    after_reset = await call(ORDER_INFO, body)

    assert codes == [0] * 10 + [10006] * 2
    assert limited.json()["retMsg"] == "Too many visits!" and limited.json()["result"] == {}
    assert 0 < reset_ms - answered_ms <= 1000
    assert after_reset["ret_code"] == 0  # refused requests did not count: the window freed on time
    assert fake_bybit.rate_limited_answers == 2


async def test_writes_have_their_own_budget_of_five(fake_bybit: FakeBybit, call: Caller) -> None:
    order = fake_bybit.add_order()
    body = {"orderId": order.id, "message": "hi", "contentType": "str"}

    sends = await asyncio.gather(*(call(ORDER_SEND, body | {"msgUuid": f"u-{n}"}) for n in range(6)))
    read = await call(ORDER_INFO, {"orderId": order.id})

    assert sorted(ret_code(answer) for answer in sends) == [0] * 5 + [10006]
    assert read["ret_code"] == 0
    assert len(fake_bybit.messages(order.id)) == 5  # the refused send was not carried out
    assert fake_bybit.rate_limited_answers == 1


@pytest.mark.parametrize(("reads_per_second", "refused"), [(None, 0), (3, 12)])
async def test_the_budget_can_be_changed_or_disabled(reads_per_second: int | None, refused: int) -> None:
    async with FakeBybit(reads_per_second=reads_per_second) as fake, httpx.AsyncClient(base_url=fake.url) as client:
        order = fake.add_order()
        burst = await asyncio.gather(*(Caller(client)(ORDER_INFO, {"orderId": order.id}) for _ in range(15)))

    assert sum(ret_code(answer) == 10006 for answer in burst) == refused == fake.rate_limited_answers


# -- unread counts and the Bybit app ------------------------------------------------------------------------


async def unread_counts(call: Caller, order_id: str) -> tuple[str, str, str, str]:
    """(pending list's selfUnreadMsgCount and unreadMsgCount, order detail's unreadMsgCount, session unreadCount)."""
    [item] = [i for i in (await call(PENDING, {"page": 1, "size": 30}))["result"]["items"] if i["id"] == order_id]
    detail = (await call(ORDER_INFO, {"orderId": order_id}))["result"]
    sessions = (await call(SESSIONS, {"lastId": 0, "size": 20, "readStatus": 2}))["result"]["chatSession"]
    [session] = [s for s in sessions if s["sessionName"] == detail["targetNickName"]]
    return item["selfUnreadMsgCount"], item["unreadMsgCount"], detail["unreadMsgCount"], session["unreadCount"]


@pytest.fixture
async def unbudgeted() -> AsyncIterator[tuple[FakeBybit, Caller]]:
    """A fake without the request budget, for tests that read more than 10 times a second, and a caller."""
    async with FakeBybit(reads_per_second=None) as fake, httpx.AsyncClient(base_url=fake.url, timeout=5) as client:
        yield fake, Caller(client)


async def test_the_budget_and_the_delay_may_change_while_the_fake_runs(unbudgeted: tuple[FakeBybit, Caller]) -> None:
    fake, call = unbudgeted
    order = fake.add_order()
    body = {"orderId": order.id}

    unlimited = await asyncio.gather(*(call(ORDER_INFO, body) for _ in range(12)))
    fake.reads_per_second, fake.delay = 10, 0.2
    started = time.monotonic()
    limited = await asyncio.gather(*(call(ORDER_INFO, body) for _ in range(12)))

    assert [ret_code(answer) for answer in unlimited] == [0] * 12
    assert sorted(ret_code(answer) for answer in limited) == [0] * 10 + [10006] * 2
    assert time.monotonic() - started >= 0.2


async def test_reading_in_the_app_marks_the_order_chat_read(unbudgeted: tuple[FakeBybit, Caller]) -> None:
    fake_bybit, call = unbudgeted
    order = fake_bybit.add_order()
    fake_bybit.post_message(order.id, "paid")
    fake_bybit.post_message(order.id, "see receipt")
    fake_bybit.post_message(order.id, "ok", sender="self")
    session = await session_of(call, order.target_mask_id)
    await call(LISTPAGE, {"orderId": order.id, "size": "30"})
    await call(SESSION_LIST, {"sessionId": session, "lastId": 0, "limit": 30})

    before = await unread_counts(call, order.id)  # reading through the API marked nothing read
    became_read = fake_bybit.read_in_app(order_id=order.id)
    after = await unread_counts(call, order.id)
    listed = (await call(LISTPAGE, {"orderId": order.id, "size": "30"}))["result"]["result"]
    fake_bybit.post_message(order.id, "hello?")
    later = await unread_counts(call, order.id)

    assert before == ("2", "2", "2", "2")
    assert became_read == 2
    assert after == ("0", "0", "0", "0")
    assert all(m["isRead"] == 1 and m["read"] == 1 for m in listed)
    assert later == ("1", "1", "1", "1")


async def test_reading_a_counterparty_in_the_app_marks_their_session_read(
    unbudgeted: tuple[FakeBybit, Caller],
) -> None:
    fake_bybit, call = unbudgeted
    first = fake_bybit.add_order(counterparty_nick="Bob")
    second = fake_bybit.add_order(counterparty_nick="Bob")
    carol = fake_bybit.add_order(counterparty_nick="Carol")
    for order in (first, second, carol):
        fake_bybit.post_message(order.id, "paid")

    fake_bybit.read_in_app(counterparty_nick="Bob")
    unread = await call(SESSIONS, {"lastId": 0, "size": 20, "readStatus": 0})
    pending = (await call(PENDING, {"page": 1, "size": 30}))["result"]["items"]

    assert [s["sessionName"] for s in unread["result"]["chatSession"]] == ["Carol"]
    assert {i["id"]: i["selfUnreadMsgCount"] for i in pending} == {first.id: "0", second.id: "0", carol.id: "1"}
    with pytest.raises(ValueError, match="exactly one"):
        fake_bybit.read_in_app(order_id=first.id, counterparty_nick="Bob")
    with pytest.raises(KeyError):
        fake_bybit.read_in_app(counterparty_nick="Nobody")


async def test_a_chat_open_in_the_app_reads_each_message_as_it_is_written(
    unbudgeted: tuple[FakeBybit, Caller],
) -> None:
    fake_bybit, call = unbudgeted
    order = fake_bybit.add_order()
    fake_bybit.read_in_app_at_once = True
    fake_bybit.post_message(order.id, "paid")
    listed = (await call(LISTPAGE, {"orderId": order.id, "size": "30"}))["result"]["result"]

    assert await unread_counts(call, order.id) == ("0", "0", "0", "0")
    assert [(m["isRead"], m["read"]) for m in listed] == [(1, 1)]
    fake_bybit.read_in_app_at_once = False
    fake_bybit.post_message(order.id, "hello?")
    assert await unread_counts(call, order.id) == ("1", "1", "1", "1")


async def test_unread_counts_may_go_missing_from_every_answer(unbudgeted: tuple[FakeBybit, Caller]) -> None:
    fake_bybit, call = unbudgeted
    order = fake_bybit.add_order()
    fake_bybit.post_message(order.id, "paid")
    fake_bybit.serve_unread_counts = False
    [item] = (await call(PENDING, {"page": 1, "size": 30}))["result"]["items"]
    detail = (await call(ORDER_INFO, {"orderId": order.id}))["result"]
    [session] = (await call(SESSIONS, {"lastId": 0, "size": 20, "readStatus": 2}))["result"]["chatSession"]

    assert [name for name in UNREAD_COUNT_FIELDS if name in item | detail | session] == []
    assert item["id"] == detail["id"] == order.id and session["sessionName"] == order.target_nick
    fake_bybit.serve_unread_counts = True
    assert await unread_counts(call, order.id) == ("1", "1", "1", "1")
