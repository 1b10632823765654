"""CallCounter: every Bot API call of a real aiogram Bot, counted by method and result against a FakeTelegram."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress

import pytest
from aiogram import Bot
from aiogram.exceptions import AiogramError

from bridge.sandbox import FakeTelegram
from bridge.telegram.bot import create_bot
from bridge.telegram.outgoing import CallCounter, CallStats
from tests.harness import free_port

GROUP = -1001000000001


@asynccontextmanager
async def counted_bot(api_url: str, token: str, timeout: float = 5.0) -> AsyncIterator[tuple[Bot, CallStats]]:
    """A bot whose every call is counted in the stats it comes with."""
    stats = CallStats()
    bot = create_bot(token, api_url, timeout)
    bot.session.middleware(CallCounter(stats))
    try:
        yield bot, stats
    finally:
        await bot.session.close()


async def send_once(bot: Bot) -> None:
    """One sendMessage; a refusal is what the test counts, not what it checks."""
    with suppress(AiogramError):
        await bot.send_message(GROUP, "hello")


@pytest.mark.parametrize(
    ("status", "description", "result"),
    [
        (400, "Bad Request: message text is empty", "400"),
        (401, "Unauthorized", "401"),
        (403, "Forbidden: bot was kicked from the supergroup chat", "403"),
        (404, "Not Found", "404"),
        (409, "Conflict: terminated by other getUpdates request", "409"),
        (413, "Request Entity Too Large", "413"),
        (502, "Bad Gateway", "5xx"),
        (418, "I'm a teapot", "other"),
    ],
)
async def test_each_refusal_is_counted_by_method_and_result(
    fake_telegram: FakeTelegram, status: int, description: str, result: str
) -> None:
    fake_telegram.add_chat(GROUP)
    fake_telegram.inject_error(status, description, method="sendMessage")
    async with counted_bot(fake_telegram.url, fake_telegram.token) as (bot, stats):
        await send_once(bot)
        await send_once(bot)
        await bot.get_me()
    assert stats.calls == {("sendMessage", result): 1, ("sendMessage", "ok"): 1, ("getMe", "ok"): 1}


@pytest.mark.parametrize(
    ("prepare", "result"),
    [
        (lambda fake: fake.inject_retry_after(retry_after=1, method="sendMessage"), "429"),
        (lambda fake: fake.migrate_chat(GROUP, -1001000000002), "400"),
        (lambda fake: fake.inject_slow_response(2.0, method="sendMessage"), "timeout"),
    ],
    ids=["flood control", "group migrated", "no answer in time"],
)
async def test_flood_control_migration_and_timeouts_are_counted(
    fake_telegram: FakeTelegram, prepare: Callable[[FakeTelegram], object], result: str
) -> None:
    fake_telegram.add_chat(GROUP)
    prepare(fake_telegram)
    async with counted_bot(fake_telegram.url, fake_telegram.token, timeout=0.5) as (bot, stats):
        await send_once(bot)
    assert stats.calls == {("sendMessage", result): 1}


async def test_an_unreachable_telegram_counts_as_network(fake_telegram: FakeTelegram) -> None:
    async with counted_bot(f"http://127.0.0.1:{free_port()}", fake_telegram.token) as (bot, stats):
        await send_once(bot)
    assert stats.calls == {("sendMessage", "network"): 1}
