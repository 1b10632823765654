"""BybitClient against a started FakeBybit: signing, page shapes, paging, retries, refusals and pacing."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
import traceback
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from bridge.bybit import URGENT_READS, BybitClient
from bridge.errors import BybitAuthError, BybitError, BybitUnavailable, ChatApiRetired
from bridge.sandbox.fake_bybit import FakeBybit, Fault, ListShape, RecordedRequest, Retirement

ORDER_INFO = "/v5/p2p/order/info"
LISTPAGE = "/v5/p2p/order/message/listpage"
PENDING = "/v5/p2p/order/pending/simplifyList"
SESSION_MESSAGES = "/v5/p2p/chat/message/listpage_v1"
SERVER_TIME = "/v5/market/time"
UNKNOWN_ORDER = "1898976123321229999"
TOLERANCE = 0.05  # seconds: our clock and the fake's see one request at slightly different moments


def client_for(fake: FakeBybit, **options: Any) -> BybitClient:
    """A client for ``fake``'s credentials; ``options`` go to BybitClient (timeouts, backoff, …)."""
    return BybitClient(api_key=fake.api_key, api_secret=fake.api_secret, base_url=fake.url, **options)


def client_at(port: int, **options: Any) -> BybitClient:
    """A client for a bare server on loopback ``port`` (not a fake: refusals, garbage); ``options`` as above."""
    return BybitClient(api_key="k", api_secret="s", base_url=f"http://127.0.0.1:{port}", **options)


@pytest.fixture
async def client(fake_bybit: FakeBybit) -> AsyncIterator[BybitClient]:
    """A client with quick backoff and a short timeout."""
    async with client_for(fake_bybit, timeout=1.0, backoff_base=0.05) as bybit:
        yield bybit


def sent_to(fake: FakeBybit, path: str) -> list[RecordedRequest]:
    return [request for request in fake.requests if request.path == path]


def gaps(requests: list[RecordedRequest]) -> list[float]:
    return [later.time - earlier.time for earlier, later in itertools.pairwise(requests)]


class BanningBybit(FakeBybit):
    """FakeBybit whose edge answers HTTP 403 (Bybit's IP ban for "access too frequent") while ``banned``."""

    def __init__(self) -> None:
        super().__init__()
        self.banned = False

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if not self.banned:
            return await super()._handle(request)
        record = RecordedRequest(request.method, request.path, None, request.headers, time.monotonic(), status=403)
        self.requests.append(record)
        return web.Response(status=403, text="403 Forbidden")


async def test_signed_requests_are_accepted(fake_bybit: FakeBybit, client: BybitClient) -> None:
    order = fake_bybit.add_order()
    info = await client.order_info(order.id)
    assert (info.id, info.target_nick_name, info.amount) == (order.id, "BuyerBob", "9250.00")
    (request,) = fake_bybit.requests
    assert request.ret_code == 0  # the fake verified the HMAC over the exact bytes sent
    assert request.headers["X-BAPI-API-KEY"] == fake_bybit.api_key
    assert request.headers["X-BAPI-SIGN-TYPE"] == "2"
    assert request.headers["X-BAPI-RECV-WINDOW"] == "5000"
    assert abs(int(request.headers["X-BAPI-TIMESTAMP"]) - time.time() * 1000) < 5000


@pytest.mark.parametrize("shape", ["nested", "bare"])
async def test_order_messages_reads_both_listpage_shapes(shape: ListShape) -> None:
    async with FakeBybit(list_shape=shape) as fake, client_for(fake) as client:
        order = fake.add_order()
        for text in ("m1", "m2", "m3"):
            fake.post_message(order.id, text)
        assert [m.message for m in await client.order_messages(order.id, 1)] == ["m3", "m2", "m1"]
        assert [m.message for m in await client.order_messages(order.id, 2, size=2)] == ["m1"]
        assert [r.body for r in fake.requests][-1] == {"orderId": order.id, "currentPage": "2", "size": "2"}


@pytest.mark.parametrize(("open_orders", "pages"), [(0, 1), (29, 1), (30, 1), (65, 3)])
async def test_pending_orders_reads_every_page_and_stops_at_the_last(
    fake_bybit: FakeBybit, client: BybitClient, open_orders: int, pages: int
) -> None:
    ids = [fake_bybit.add_order().id for _ in range(open_orders)]
    fake_bybit.add_order(status=50)  # completed: not pending, not listed
    listed = await client.pending_order_pages()
    assert [o.id for page in listed for o in page] == ids[::-1]  # newest first, none twice
    assert len(listed) == pages
    bodies = [r.body for r in sent_to(fake_bybit, PENDING)]
    assert bodies == [{"page": page, "size": 30} for page in range(1, pages + 1)]  # integers, as documented
    assert all(r.ret_code == 0 for r in fake_bybit.requests)


async def test_session_messages_sends_last_id_as_an_integer(fake_bybit: FakeBybit, client: BybitClient) -> None:
    order = fake_bybit.add_order()
    for n in range(1, 6):
        fake_bybit.post_message(order.id, f"s{n}")
    session = await client.session_id(order.target_mask_id)
    newest = await client.session_messages(session)
    assert [m.content for m in newest] == ["s5", "s4", "s3", "s2", "s1"]
    older = await client.session_messages(session, last_id=int(newest[1].id), limit=2)
    assert [m.content for m in older] == ["s3", "s2"]
    first, second = (r.body for r in sent_to(fake_bybit, SESSION_MESSAGES))
    assert first == {"sessionId": session, "lastId": 0, "limit": 30}
    assert second == {"sessionId": session, "lastId": int(newest[1].id), "limit": 2}
    assert type(second["lastId"]) is int


async def test_rate_limit_waits_for_the_reset_time(fake_bybit: FakeBybit, client: BybitClient) -> None:
    order = fake_bybit.add_order()
    fake_bybit.inject("rate_limit", path=ORDER_INFO, reset_after_ms=400)
    assert (await client.order_info(order.id)).id == order.id
    limited, retried = sent_to(fake_bybit, ORDER_INFO)
    assert (limited.ret_code, retried.ret_code) == (10006, 0)
    assert 0.4 - TOLERANCE <= retried.time - limited.time < 0.9  # the header's reset, not the 1 s fallback


@pytest.mark.parametrize("offset_ms", [60_000, -60_000])
async def test_clock_skew_resyncs_and_succeeds(fake_bybit: FakeBybit, client: BybitClient, offset_ms: int) -> None:
    order = fake_bybit.add_order()
    fake_bybit.clock_offset_ms = offset_ms  # Bybit's clock a minute ahead of ours (or behind)
    assert (await client.order_info(order.id)).id == order.id
    assert (await client.order_info(order.id)).id == order.id  # the offset is kept
    assert [r.ret_code for r in sent_to(fake_bybit, ORDER_INFO)] == [10002, 0, 0]
    assert fake_bybit.calls_to(SERVER_TIME) == 1


async def test_server_errors_are_retried_with_backoff(fake_bybit: FakeBybit) -> None:
    order = fake_bybit.add_order()
    fake_bybit.inject("server_error", times=2, path=ORDER_INFO)
    async with client_for(fake_bybit, backoff_base=0.1) as client:
        assert (await client.order_info(order.id)).id == order.id
    requests = sent_to(fake_bybit, ORDER_INFO)
    assert [r.status for r in requests] == [502, 502, 200]
    first, second = gaps(requests)
    assert first >= 0.05 - TOLERANCE  # jittered within [base/2, base], then doubled
    assert second >= 0.1 - TOLERANCE


async def test_server_errors_give_up_after_max_attempts(fake_bybit: FakeBybit) -> None:
    order = fake_bybit.add_order()
    fake_bybit.inject("server_error", times=3, path=ORDER_INFO)
    async with client_for(fake_bybit, max_attempts=3, backoff_base=0.02) as client:
        with pytest.raises(BybitUnavailable) as caught:
            await client.order_info(order.id)
        assert fake_bybit.calls_to(ORDER_INFO) == 3
        assert "gave up after 3 attempts: HTTP 502" in str(caught.value)
        assert (await client.order_info(order.id)).id == order.id  # a later call is not held back


async def test_hung_request_times_out_and_is_retried(fake_bybit: FakeBybit) -> None:
    order = fake_bybit.add_order()
    fake_bybit.inject("hang", path=ORDER_INFO)
    async with client_for(fake_bybit, timeout=0.3, backoff_base=0.02) as client:
        assert (await client.order_info(order.id)).id == order.id
    hung, answered = sent_to(fake_bybit, ORDER_INFO)
    assert (hung.status, answered.status) == (None, 200)  # the first one was never answered
    assert answered.time - hung.time >= 0.3 - TOLERANCE


async def test_hangs_give_up_after_max_attempts(fake_bybit: FakeBybit) -> None:
    order = fake_bybit.add_order()
    fake_bybit.inject("hang", times=2, path=ORDER_INFO)
    async with client_for(fake_bybit, timeout=0.2, max_attempts=2, backoff_base=0.02) as client:
        started = time.monotonic()
        with pytest.raises(BybitUnavailable, match="gave up after 2 attempts: ReadTimeout"):
            await client.order_info(order.id)
    assert time.monotonic() - started >= 0.4 - TOLERANCE
    assert [r.status for r in sent_to(fake_bybit, ORDER_INFO)] == [None, None]


async def test_injected_auth_refusal_raises_at_once(fake_bybit: FakeBybit, client: BybitClient) -> None:
    order = fake_bybit.add_order()
    fake_bybit.inject("auth", times=5, path=ORDER_INFO)
    with pytest.raises(BybitAuthError) as caught:
        await client.order_info(order.id)
    assert (caught.value.code, caught.value.endpoint) == (10003, ORDER_INFO)
    assert fake_bybit.calls_to(ORDER_INFO) == 1  # not retried


async def test_wrong_secret_raises_auth_error_at_once(fake_bybit: FakeBybit) -> None:
    order = fake_bybit.add_order()
    async with BybitClient(
        api_key=fake_bybit.api_key, api_secret="wrong-secret-0123", base_url=fake_bybit.url
    ) as client:
        with pytest.raises(BybitAuthError) as caught:
            await client.order_info(order.id)
    assert caught.value.code == 10004
    assert "error sign!" in caught.value.message
    assert fake_bybit.calls_to(ORDER_INFO) == 1


async def test_retired_order_chat_raises_chat_api_retired(fake_bybit: FakeBybit, client: BybitClient) -> None:
    order = fake_bybit.add_order()
    fake_bybit.retire_order_chat()
    with pytest.raises(ChatApiRetired) as caught:
        await client.order_messages(order.id, 1)
    assert caught.value.code == 912200387
    assert fake_bybit.calls_to(LISTPAGE) == 1


@pytest.mark.parametrize("how", ["gone", "not json", "path not found"])
async def test_an_order_chat_path_that_is_gone_raises_chat_api_retired(fake_bybit: FakeBybit, how: Retirement) -> None:
    """Before: a 404 or a page that is not JSON was retried and given up as unavailable, "path not found" an error."""
    order = fake_bybit.add_order()
    fake_bybit.retire_order_chat(how)
    async with client_for(fake_bybit, backoff_base=0.01, max_attempts=2) as client:
        await client.order_info(order.id)  # (another path answers: the order chat's alone is gone)
        with pytest.raises(ChatApiRetired):
            await client.order_messages(order.id, 1)
        with pytest.raises(ChatApiRetired):
            await client.send_order_message(order.id, "hello", "uuid-1")


async def test_a_page_that_is_not_json_everywhere_is_bybit_unavailable_not_a_retirement(fake_bybit: FakeBybit) -> None:
    order = fake_bybit.add_order()
    fake_bybit.retire_order_chat("not json")
    async with client_for(fake_bybit, backoff_base=0.01, max_attempts=2) as client:
        with pytest.raises(BybitUnavailable, match="not Bybit JSON"):  # no other path answered yet: unsure
            await client.order_messages(order.id, 1)


async def test_unknown_order_raises_bybit_error_with_its_message(fake_bybit: FakeBybit, client: BybitClient) -> None:
    with pytest.raises(BybitError) as caught:
        await client.order_info(UNKNOWN_ORDER)
    assert type(caught.value) is BybitError
    assert (caught.value.code, caught.value.message) == (912100027, "The order does not exist.")
    assert "The order does not exist." in str(caught.value)
    assert fake_bybit.calls_to(ORDER_INFO) == 1


async def test_a_send_that_could_not_connect_is_retried_as_never_sent() -> None:
    with socket.socket() as closed:  # a port nothing listens on: every connection is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    async with client_at(port, max_attempts=2) as client:
        with pytest.raises(BybitUnavailable, match="gave up after 2 attempts"):  # not "it may have arrived"
            await client.send_session_message("session", "1", "hello")


async def test_an_answer_that_is_not_http_is_a_failure_worth_retrying() -> None:
    async def garble(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HELLO THERE\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(garble, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, client_at(port, max_attempts=2, backoff_base=0.01) as client:
        with pytest.raises(BybitUnavailable, match="gave up after 2 attempts"):
            await client.order_info("1")
        with pytest.raises(BybitUnavailable, match="it may have arrived"):  # a send that reached a server
            await client.send_session_message("session", "1", "hello")


async def test_http_403_pauses_every_call_without_sending() -> None:
    async with BanningBybit() as fake, client_for(fake) as client:
        order = fake.add_order()
        fake.banned = True
        with pytest.raises(BybitUnavailable) as caught:
            await client.order_info(order.id)
        assert caught.value.code == 403
        fake.banned = False  # even once the ban lifts, the client keeps away for its pause
        with pytest.raises(BybitUnavailable, match="paused"):
            await client.pending_order_pages()
        with pytest.raises(BybitUnavailable, match="paused"):
            await client.order_info(order.id)
        assert [(r.path, r.status) for r in fake.requests] == [(ORDER_INFO, 403)]


async def test_requests_stay_within_requests_per_second(fake_bybit: FakeBybit) -> None:
    order = fake_bybit.add_order()
    # Urgent: they may use the whole window (regular reads get a tenth of it, 15 of them take 16 s, far below it).
    URGENT_READS.set(True)  # (the tasks below copy this context)
    async with client_for(fake_bybit, requests_per_second=10) as client:
        infos = await asyncio.gather(*(client.order_info(order.id) for _ in range(15)))
    assert {info.id for info in infos} == {order.id}
    times = sorted(r.time for r in fake_bybit.requests)
    assert len(times) == 15
    assert min(later - earlier for earlier, later in zip(times, times[10:], strict=False)) >= 1.0 - TOLERANCE


async def test_urgent_reads_at_once_are_spread_over_the_window_never_sent_in_a_burst(fake_bybit: FakeBybit) -> None:
    order = fake_bybit.add_order()
    URGENT_READS.set(True)  # (the tasks below copy this context)
    async with client_for(fake_bybit, requests_per_second=10) as client:
        await asyncio.gather(*(client.order_info(order.id) for _ in range(12)))
    spacing = gaps(sorted(fake_bybit.requests, key=lambda r: r.time))
    assert len(spacing) == 11
    assert min(spacing) >= 0.11 - TOLERANCE  # one a step (the window of 1.1 s over 10): Bybit sees no bunch


async def test_the_secret_never_appears_in_exception_text(fake_bybit: FakeBybit) -> None:
    order = fake_bybit.add_order()
    wrong = "wrong-secret-0123"
    failures: list[BaseException] = []

    async def collect(client: BybitClient) -> None:
        with pytest.raises(BybitError) as caught:
            await client.order_info(order.id)
        failures.append(caught.value)

    async with BybitClient(api_key=fake_bybit.api_key, api_secret=wrong, base_url=fake_bybit.url) as client:
        await collect(client)  # 10004 quotes the signed string
    async with client_for(fake_bybit, timeout=0.2, max_attempts=2, backoff_base=0.02) as client:
        fake_bybit.inject("auth", path=ORDER_INFO)
        await collect(client)
        faults: tuple[Fault, ...] = ("server_error", "hang", "timestamp")
        for fault in faults:  # twice each: every attempt fails
            fake_bybit.inject(fault, times=2, path=ORDER_INFO)
            await collect(client)
        with pytest.raises(BybitError) as caught:
            await client.order_info(UNKNOWN_ORDER)
        failures.append(caught.value)
    assert [getattr(exc, "code", None) for exc in failures] == [10004, 10003, 0, 0, 10002, 912100027]
    for exc in failures:
        text = "".join(traceback.format_exception(exc)) + repr(exc) + repr(vars(exc))
        assert fake_bybit.api_secret not in text
        assert wrong not in text


async def test_unread_sessions_reads_every_page_of_the_unread_ones_only(
    fake_bybit: FakeBybit, client: BybitClient
) -> None:
    orders = [fake_bybit.add_order(counterparty_nick=f"Buyer{n:02d}") for n in range(27)]
    for order in orders[:25]:
        fake_bybit.post_message(order.id, "hello")
    fake_bybit.post_message(orders[25].id, "a notice", sender="system")  # not unread
    pages = [page async for page in client.sessions()]
    assert [len(page) for page in pages] == [20, 5]
    sessions = [session for page in pages for session in page]
    assert sorted(s.session_name for s in sessions) == [f"Buyer{n:02d}" for n in range(25)]
    assert all(s.unread == 1 and s.session_id for s in sessions)
    assert len(sent_to(fake_bybit, "/v5/p2p/chat/session/list_v1")) == 2  # 20 a page


async def test_unread_sessions_read_from_one_cursor_down_to_another(fake_bybit: FakeBybit, client: BybitClient) -> None:
    for n in range(45):
        fake_bybit.post_message(fake_bybit.add_order(counterparty_nick=f"Buyer{n:02d}").id, "hello")
    cursors = [session.cursor async for page in client.sessions() for session in page]
    assert len(cursors) == 45 and cursors == sorted(cursors, reverse=True)
    lane = [session.cursor async for page in client.sessions(cursors[4], stop=cursors[24]) for session in page]
    assert lane == cursors[5:25]  # one page: it reached the stop
    lane = [session.cursor async for page in client.sessions(cursors[4], stop=cursors[25]) for session in page]
    assert lane == cursors[5:]  # one more page, the last
