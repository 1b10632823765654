"""The metrics and health endpoint of the real bridge, read over loopback HTTP while it forwards."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bridge import healthcheck
from bridge.errors import ConfigError
from tests.harness import Harness, free_port

LISTPAGE = "/v5/p2p/order/message/listpage"
T = TypeVar("T")


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(port: int) -> Samples:
    """GET /metrics: every sample by name and labels."""
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


async def health(port: int) -> tuple[int, str]:
    """GET /healthz: status and body."""
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{port}/healthz")
    return response.status_code, response.text


async def docker_healthcheck(port: int, monkeypatch: pytest.MonkeyPatch) -> int:
    """The image's HEALTHCHECK (``python -m bridge.healthcheck``) with ``METRICS_PORT=port``: its exit code."""
    monkeypatch.setenv("METRICS_PORT", str(port))
    return await asyncio.to_thread(healthcheck.main)  # it blocks; the bridge answers meanwhile


def sample(samples: Samples, name: str, **labels: str) -> float:
    return samples[name, frozenset(labels.items())]


async def eventually(fetch: Callable[[], Awaitable[T]], ready: Callable[[T], bool], timeout: float = 10) -> T:
    """Fetch again until ``ready`` holds for the answer; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not ready(answer := await fetch()):
        assert time.monotonic() < deadline, f"never got there: {answer}"
        await asyncio.sleep(0.05)
    return answer


async def test_metrics_show_messages_calls_queue_and_poll_lag(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    order = harness.bybit.add_order()
    harness.bybit.post_message(order.id, "Hi, paying now")
    await harness.start(metrics_port=port)
    await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("Hi, paying now")

    harness.bybit.inject("rate_limit", path=LISTPAGE)
    harness.telegram.inject_retry_after(retry_after=1, method="sendMessage")
    harness.bybit.post_message(order.id, "I paid")
    await harness.wait_text("I paid")
    await harness.telegram.wait_for(lambda: harness.bybit.calls_to(LISTPAGE) >= 5)  # polls after the rate limit

    delivered = "p2p_bridge_messages_delivered_total"  # marked in the store just after Telegram took the post
    samples = await eventually(lambda: scrape(port), lambda samples: sample(samples, delivered) == 2)
    assert sample(samples, "p2p_bridge_messages_seen_total") == 2
    assert sample(samples, "p2p_bridge_messages_held") == 0
    assert sample(samples, "p2p_bridge_files_to_follow") == 0
    assert sample(samples, "p2p_bridge_messages_dead_lettered") == 0
    assert sample(samples, "p2p_bridge_queue_depth") == 0
    assert sample(samples, "p2p_bridge_watched_orders") == 1
    listpage = "order/message/listpage"
    assert sample(samples, "p2p_bridge_bybit_requests_total", endpoint=listpage, result="rate_limited") == 1
    assert sample(samples, "p2p_bridge_bybit_requests_total", endpoint=listpage, result="ok") >= 3
    assert sample(samples, "p2p_bridge_bybit_requests_total", endpoint="order/info", result="ok") >= 1
    assert sample(samples, "p2p_bridge_telegram_calls_total", method="sendMessage", result="429") == 1
    posts = sum(1 for s in harness.telegram.sent if s.method == "sendMessage")
    assert sample(samples, "p2p_bridge_telegram_calls_total", method="sendMessage", result="ok") == posts
    assert sample(samples, "p2p_bridge_telegram_calls_total", method="getUpdates", result="ok") >= 1
    lag_count = sample(samples, "p2p_bridge_poll_lag_seconds_count")
    assert sample(samples, "p2p_bridge_poll_lag_seconds_bucket", le="+Inf") == lag_count >= 0
    assert sample(samples, "p2p_bridge_poll_hints_total") >= 0
    assert abs(sample(samples, "p2p_bridge_last_poll_success_timestamp_seconds") - time.time()) < 10
    assert await health(port) == (200, "ok")
    assert await docker_healthcheck(port, monkeypatch) == 0


async def test_health_fails_while_bybit_rejects_the_key(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    order = harness.bybit.add_order()
    await harness.start(metrics_port=port, poll_interval=0.1)  # healthz allows 20 intervals: 2 s
    assert await health(port) == (200, "ok")  # no watched order: nothing to read yet
    await harness.reply_to(f"/watch {order.id}")

    harness.bybit.inject("auth", times=1_000_000)  # Bybit rejects the key from now on
    await harness.telegram.wait_for(lambda: harness.bybit.calls_to(LISTPAGE) >= 1, timeout=5)
    status, reason = await eventually(lambda: health(port), lambda answer: answer[0] != 200)
    assert status == 503 and reason.startswith("no successful Bybit read for ")
    assert await docker_healthcheck(port, monkeypatch) == 1
    assert capsys.readouterr().out.startswith("unhealthy: 503 no successful Bybit read for ")
    samples = await scrape(port)
    assert sample(samples, "p2p_bridge_bybit_requests_total", endpoint="order/message/listpage", result="ret_10003")


async def test_a_metrics_port_in_use_stops_the_bridge_naming_the_setting(harness: Harness) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        with pytest.raises(ConfigError, match=f"METRICS_PORT {port} cannot be served"):
            await harness.start(metrics_port=port)
