"""Bybit misbehaving under a watched order: every message still arrives, exactly once."""

from __future__ import annotations

import logging

import pytest

from bridge.sandbox.fake_bybit import FakeBybit, FakeOrder
from tests.harness import Harness

LISTPAGE = "/v5/p2p/order/message/listpage"
SERVER_TIME = "/v5/market/time"


def body_lines(harness: Harness, prefix: str) -> list[str]:
    return [line for text in harness.texts() for line in text.splitlines() if line.startswith(prefix)]


def answered(bybit: FakeBybit, path: str, ret_code: int | None = None, status: int | None = None) -> int:
    """How many requests to ``path`` got ``ret_code`` (and/or HTTP ``status``)."""
    return sum(
        1
        for r in bybit.requests
        if r.path == path and (ret_code is None or r.ret_code == ret_code) and (status is None or r.status == status)
    )


async def watched(harness: Harness, **settings: object) -> FakeOrder:
    """Start the bridge, watch an order with some history and wait until the history arrived."""
    order = harness.bybit.add_order()
    harness.bybit.post_message(order.id, "m 01")
    harness.bybit.post_message(order.id, "m 02")
    await harness.start(**settings)
    assert "Watching" in await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("m 02")
    return order


async def post_and_expect(harness: Harness, order: FakeOrder, numbers: range) -> None:
    for n in numbers:
        harness.bybit.post_message(order.id, f"m {n:02d}")
    await harness.wait_text(f"m {numbers[-1]:02d}")


async def test_rate_limit_waits_for_the_reset_time(harness: Harness) -> None:
    order = await watched(harness)
    harness.bybit.inject("rate_limit", times=2, path=LISTPAGE, reset_after_ms=600)
    await post_and_expect(harness, order, range(3, 8))

    assert answered(harness.bybit, LISTPAGE, ret_code=10006) == 2
    limited = [i for i, r in enumerate(harness.bybit.requests) if r.ret_code == 10006]
    first_after = next(r for r in harness.bybit.requests[limited[-1] + 1 :] if r.path == LISTPAGE)
    assert first_after.time - harness.bybit.requests[limited[-1]].time >= 0.45  # waited for the reset header
    assert body_lines(harness, "m ") == [f"m {n:02d}" for n in range(1, 8)]


async def test_server_errors_are_retried(harness: Harness) -> None:
    order = await watched(harness)
    harness.bybit.inject("server_error", times=2, path=LISTPAGE)
    await post_and_expect(harness, order, range(3, 8))
    assert answered(harness.bybit, LISTPAGE, status=502) == 2
    assert body_lines(harness, "m ") == [f"m {n:02d}" for n in range(1, 8)]


async def test_hung_request_times_out_and_is_retried(harness: Harness) -> None:
    order = await watched(harness, bybit_timeout=0.5)
    harness.bybit.inject("hang", times=1, path=LISTPAGE)
    await post_and_expect(harness, order, range(3, 6))
    hung = [r for r in harness.bybit.requests if r.path == LISTPAGE and r.status is None]
    assert len(hung) == 1  # never answered: the bridge gave up on it and asked again
    assert body_lines(harness, "m ") == [f"m {n:02d}" for n in range(1, 6)]


async def test_clock_behind_bybit_resyncs(harness: Harness) -> None:
    order = await watched(harness)
    syncs_before = harness.bybit.calls_to(SERVER_TIME)
    harness.bybit.clock_offset_ms = 60_000  # Bybit's clock is a minute ahead of ours
    await post_and_expect(harness, order, range(3, 6))
    assert any(r.ret_code == 10002 for r in harness.bybit.requests)  # refused for the clock, on some path
    assert harness.bybit.calls_to(SERVER_TIME) > syncs_before
    harness.bybit.post_message(order.id, "m 06")
    await harness.wait_text("m 06")
    assert body_lines(harness, "m ") == [f"m {n:02d}" for n in range(1, 7)]


async def test_clock_behind_from_the_start(harness: Harness) -> None:
    harness.bybit.clock_offset_ms = 90_000
    order = await watched(harness)
    assert harness.bybit.calls_to(SERVER_TIME) >= 1
    await post_and_expect(harness, order, range(3, 5))
    assert body_lines(harness, "m ") == [f"m {n:02d}" for n in range(1, 5)]


async def test_auth_error_is_logged_once_and_delivery_resumes(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    order = await watched(harness)
    harness.bybit.inject("auth", times=6, path=LISTPAGE)
    harness.bybit.post_message(order.id, "m 03")
    # The bridge keeps polling through the refusals and logs them once.
    await harness.telegram.wait_for(lambda: answered(harness.bybit, LISTPAGE, ret_code=10003) == 6)
    await harness.wait_text("m 03")
    await post_and_expect(harness, order, range(4, 6))

    refusals = [r for r in caplog.records if "10003" in r.getMessage() and r.levelno >= logging.ERROR]
    assert len(refusals) == 1, [r.getMessage() for r in refusals]
    assert "BYBIT_API_KEY" in refusals[0].getMessage()
    assert body_lines(harness, "m ") == [f"m {n:02d}" for n in range(1, 6)]
    assert "Watching" in await harness.reply_to("/list")  # the bot still answers


async def test_rejected_secret_is_reported_once_and_recovers(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    order = await watched(harness)
    await harness.stop()
    # Restarted with a wrong secret: Bybit answers 10004 "error sign! origin_string[<timestamp>…]" every poll.
    await harness.start(bybit_api_secret="not-the-right-secret")
    harness.bybit.post_message(order.id, "m 03")
    await harness.telegram.wait_for(lambda: answered(harness.bybit, LISTPAGE, ret_code=10004) >= 5)
    await harness.stop()
    refusals = [r.getMessage() for r in caplog.records if "10004" in r.getMessage()]
    assert len(refusals) == 1, refusals  # "rejected credentials are reported once", not once per poll

    await harness.start()  # the operator fixed the secret
    await harness.wait_text("m 03")
    assert body_lines(harness, "m ") == ["m 01", "m 02", "m 03"]


async def test_every_fault_together_still_exactly_once(harness: Harness) -> None:
    order = await watched(harness, bybit_timeout=0.5)
    bybit = harness.bybit
    bybit.inject("server_error", times=1, path=LISTPAGE)
    bybit.inject("rate_limit", times=1, path=LISTPAGE, reset_after_ms=200)
    bybit.inject("hang", times=1, path=LISTPAGE)
    bybit.inject("timestamp", times=1, path=LISTPAGE)
    for n in range(3, 13):
        bybit.post_message(order.id, f"m {n:02d}")
    await harness.wait_text("m 12", timeout=15)
    assert body_lines(harness, "m ") == [f"m {n:02d}" for n in range(1, 13)]


async def test_secrets_never_logged(fake_bybit: FakeBybit, harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    order = await watched(harness, bybit_timeout=0.5)
    bybit, telegram = harness.bybit, harness.telegram
    bybit.inject("auth", times=2, path=LISTPAGE)
    bybit.inject("timestamp", times=1, path=LISTPAGE)
    bybit.inject("server_error", times=1, path=LISTPAGE)
    telegram.inject_retry_after(times=1, retry_after=1)
    await post_and_expect(harness, order, range(3, 5))
    await harness.reply_to("/watch 1898976123321229999")  # Bybit refuses: logged with its reason
    await harness.stop()
    # A wrong secret: every signed call is refused with "error sign!", which quotes what was signed.
    await harness.start(bybit_api_secret="wrong-secret-0123456789", bybit_timeout=0.5)
    bybit.post_message(order.id, "m 05")
    await telegram.wait_for(lambda: answered(bybit, LISTPAGE, ret_code=10004) >= 2)
    await harness.stop()

    text = caplog.text
    assert "10004" in text and "10003" in text  # the faults were logged...
    for secret in (fake_bybit.api_secret, "wrong-secret-0123456789", telegram.token, telegram.token.split(":")[1]):
        assert secret not in text  # ...without the secrets
