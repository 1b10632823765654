"""BudgetStats through the real client against FakeBybit: each request counted by endpoint and result; the log."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import pytest

from bridge.bybit import BybitClient, log_budget
from bridge.errors import BybitAuthError, BybitUnavailable
from bridge.sandbox.fake_bybit import FakeBybit
from tests.harness import free_port

INFO = "order/info"


def quick_client(base_url: str, fake: FakeBybit) -> BybitClient:
    return BybitClient(
        api_key=fake.api_key, api_secret=fake.api_secret, base_url=base_url, timeout=1.0, backoff_base=0.01
    )


async def test_each_request_is_counted_by_endpoint_and_result(fake_bybit: FakeBybit) -> None:
    order = fake_bybit.add_order()
    fake_bybit.inject("rate_limit", reset_after_ms=50)
    fake_bybit.inject("server_error")
    async with quick_client(fake_bybit.url, fake_bybit) as client:
        await client.order_info(order.id)  # 10006, then 502, then the answer
        fake_bybit.inject("auth")
        with pytest.raises(BybitAuthError):
            await client.order_info(order.id)
        await client.pending_order_pages()
    assert client.stats.results == {
        (INFO, "rate_limited"): 1,
        (INFO, "http_5xx"): 1,
        (INFO, "ok"): 1,
        (INFO, "ret_10003"): 1,
        ("order/pending/simplifyList", "ok"): 1,
    }
    assert client.stats.rate_limited == 1
    assert client.stats.by_endpoint == {INFO: 4, "order/pending/simplifyList": 1}
    assert "rate-limited 1 time(s) in it (1 since start)" in client.stats.summary()
    assert f"most calls in it: {INFO} 4, order/pending/simplifyList 1" in client.stats.summary()


async def test_the_budget_line_counts_the_last_minute_only(fake_bybit: FakeBybit) -> None:
    """Before: the busiest endpoints were counted since start beside a rate of the last minute."""
    order = fake_bybit.add_order()
    async with quick_client(fake_bybit.url, fake_bybit) as client:
        await client.order_info(order.id)
        client.stats.clock = lambda: time.monotonic() + 61  # a minute later
        await client.pending_order_pages()
    assert "most calls in it: order/pending/simplifyList 1;" in client.stats.summary()
    assert client.stats.by_endpoint == {INFO: 1, "order/pending/simplifyList": 1}


async def test_requests_that_reach_nobody_count_as_transport_errors(fake_bybit: FakeBybit) -> None:
    async with quick_client(f"http://127.0.0.1:{free_port()}", fake_bybit) as client:
        with pytest.raises(BybitUnavailable):
            await client.order_info("1")
    assert client.stats.results == {(INFO, "transport_error"): 5}  # every attempt


async def test_the_budget_is_logged_each_period_bybit_was_called(
    fake_bybit: FakeBybit, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bridge.bybit.budget")
    order = fake_bybit.add_order()
    async with quick_client(fake_bybit.url, fake_bybit) as client:
        logger = asyncio.create_task(log_budget(client.stats, period=0.2))
        try:
            await asyncio.sleep(0.5)  # two quiet periods: nothing to say
            assert not caplog.records
            await client.order_info(order.id)
            await asyncio.sleep(0.5)  # one period with a call, one without
        finally:
            logger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await logger
    (record,) = caplog.records
    assert record.getMessage().startswith("bybit budget: ") and f"{INFO} 1" in record.getMessage()
