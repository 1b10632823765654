"""Small pure pieces: the sliding window, configuration."""

from __future__ import annotations

import asyncio

import pytest

from bridge.config import load_settings
from bridge.errors import ConfigError
from bridge.ratelimit import SlidingWindow


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_sliding_window_delay() -> None:
    clock = FakeClock()
    window = SlidingWindow(2, 10.0, clock=clock)
    assert window.delay() == 0
    asyncio.run(window.acquire())
    asyncio.run(window.acquire())
    assert window.delay() == pytest.approx(10.0)
    clock.now = 4.0
    assert window.delay() == pytest.approx(6.0)
    clock.now = 10.0
    assert window.delay() == 0
    window.push_back(30.0)
    assert window.delay() == pytest.approx(30.0)


def test_fractional_rate() -> None:
    half = SlidingWindow.per_second(0.5)
    assert (half.limit, half.period) == (1, 2.0)
    assert SlidingWindow.per_second(10).limit == 10


def test_config_errors_name_the_variable_not_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLL_INTERVAL", "soon-secret-ish")
    with pytest.raises(ConfigError) as err:
        load_settings(_env_file=None)
    assert "POLL_INTERVAL" in str(err.value) and "soon-secret-ish" not in str(err.value)


def test_missing_credentials_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    settings = load_settings(_env_file=None)
    with pytest.raises(ConfigError) as err:
        settings.require_credentials()
    assert "TELEGRAM_CHAT_ID" in str(err.value) and "BYBIT_API_SECRET" in str(err.value)
    assert "ABCDEFGHIJ" not in str(err.value)


def test_allowed_chats_and_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_ALLOWED_CHAT_IDS", "-1001, 42,")
    monkeypatch.setenv("TELEGRAM_CHAT_ID", "-100")
    monkeypatch.setenv("BYBIT_TESTNET", "true")
    settings = load_settings(_env_file=None)
    assert settings.served_chat_ids == {-1001, 42, -100}
    assert settings.bybit_url == "https://api-testnet.bybit.com"
    monkeypatch.setenv("BYBIT_BASE_URL", "http://127.0.0.1:9/")
    assert load_settings(_env_file=None).bybit_url == "http://127.0.0.1:9"


async def test_an_urgent_caller_takes_the_next_slot_before_earlier_waiters() -> None:
    window = SlidingWindow(1, 0.2)
    await window.acquire()
    order: list[str] = []

    async def take(name: str, urgent: bool) -> None:
        await window.acquire(urgent=urgent)
        order.append(name)

    backlog = asyncio.create_task(take("backlog", False))
    await asyncio.sleep(0.05)
    await take("reply", True)
    await backlog
    assert order == ["reply", "backlog"]
