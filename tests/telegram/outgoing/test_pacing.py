"""Pacer and PacingMiddleware through a real aiogram Bot against a FakeTelegram that enforces flood limits.

The fake enforces Telegram's limits: 1 post/s in a private chat, 20/min in a group, 30/s in all. It enforces
no per-second limit in groups, so the group tests give the Pacer a loose per-second budget to stay fast while
its per-minute window is the one that binds.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiogram import Bot

from bridge.sandbox import FakeTelegram
from bridge.telegram.bot import create_bot
from bridge.telegram.constants import FloodLimit
from bridge.telegram.outgoing import CallStats, Pacer, PacingMiddleware
from bridge.telegram.outgoing.pacing import BULK, FORGET_FROM

GROUP = -1001000000001
PRIVATE = 4242
TOLERANCE = 0.05  # seconds between our clock and the fake's stamps


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    """A FakeTelegram at Telegram's real flood limits, with a group and a private chat."""
    async with FakeTelegram(enforce_flood_limits=True) as fake:
        fake.add_chat(GROUP, type="supergroup", title="Team")
        fake.add_chat(PRIVATE, type="private", title="Alice")
        yield fake


def real_pacer() -> Pacer:
    return Pacer(
        group_per_minute=FloodLimit.GROUP_MESSAGES_PER_MINUTE,
        chat_per_second=FloodLimit.CHAT_MESSAGES_PER_SECOND,
        global_per_second=FloodLimit.GLOBAL_MESSAGES_PER_SECOND,
    )


def group_pacer() -> Pacer:
    """Telegram's group and global limits; per second as loose as the fake is in groups."""
    return Pacer(
        group_per_minute=FloodLimit.GROUP_MESSAGES_PER_MINUTE,
        chat_per_second=FloodLimit.GLOBAL_MESSAGES_PER_SECOND,
        global_per_second=FloodLimit.GLOBAL_MESSAGES_PER_SECOND,
    )


@asynccontextmanager
async def paced_bot(fake: FakeTelegram, pacer: Pacer, stats: CallStats | None = None) -> AsyncIterator[Bot]:
    """The bridge's Bot (create_bot) with the pacing middleware, pointed at ``fake``."""
    bot = create_bot(fake.token, fake.url, timeout=10.0)
    bot.session.middleware(PacingMiddleware(pacer, stats or CallStats()))
    try:
        yield bot
    finally:
        await bot.session.close()


def bulk(post: Callable[[], Awaitable[object]]) -> asyncio.Task[object]:
    """Run ``post`` in a task marked as backlog posting, as delivery workers are."""

    async def run() -> object:
        BULK.set(True)
        return await post()

    return asyncio.create_task(run())


def texts(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [s.plain or "" for s in fake.sent_to(chat_id)]


async def cancel(tasks: Sequence[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_group_posts_stop_at_the_per_minute_budget_without_a_429(telegram: FakeTelegram) -> None:
    async with paced_bot(telegram, group_pacer()) as bot:
        posts = [asyncio.create_task(bot.send_message(GROUP, f"p{n}")) for n in range(25)]
        await telegram.wait_for(lambda: len(telegram.sent_to(GROUP)) == 20, timeout=5)
        await asyncio.sleep(0.3)
        held = [task for task in posts if not task.done()]
        await cancel(posts)  # the rest would go a minute later
    assert len(telegram.sent_to(GROUP)) == 20 and len(held) == 5
    assert telegram.flood_errors == 0


async def test_a_private_chat_gets_one_post_a_second(telegram: FakeTelegram) -> None:
    async with paced_bot(telegram, real_pacer()) as bot:
        await asyncio.gather(*(bot.send_message(PRIVATE, f"p{n}") for n in range(3)))
    times = [s.time for s in telegram.sent_to(PRIVATE)]
    assert len(times) == 3 and telegram.flood_errors == 0
    assert all(later - earlier >= 1.0 - TOLERANCE for earlier, later in itertools.pairwise(times))


async def test_a_429_is_waited_out_and_the_post_arrives_once(telegram: FakeTelegram) -> None:
    stats = CallStats()
    telegram.inject_retry_after(times=1, retry_after=1)
    async with paced_bot(telegram, real_pacer(), stats) as bot:
        await bot.send_message(GROUP, "after the flood")
    assert texts(telegram, GROUP) == ["after the flood"]
    refused, accepted = (r for r in telegram.requests if r.method == "sendMessage")
    assert accepted.time - refused.time >= 1.0 - TOLERANCE
    assert stats.errors["flood_control"] == 1 and telegram.flood_errors == 1


async def test_calls_that_post_nothing_are_not_paced(telegram: FakeTelegram) -> None:
    async with paced_bot(telegram, real_pacer()) as bot:
        await bot.send_message(PRIVATE, "first")  # the chat's budget is now spent for a second
        started = time.monotonic()
        for _ in range(3):
            await bot.get_chat(PRIVATE)
            await bot.get_me()
        unpaced = time.monotonic() - started
        await bot.send_message(PRIVATE, "second")
        paced = time.monotonic() - started
    assert unpaced < 0.5
    assert paced >= 1.0 - TOLERANCE  # while a post did wait for the budget


async def test_a_command_reply_takes_the_next_slot_before_the_backlog(telegram: FakeTelegram) -> None:
    async with paced_bot(telegram, real_pacer()) as bot:

        async def backlog() -> None:
            for n in (1, 2):
                await bot.send_message(PRIVATE, f"backlog {n}")

        worker = bulk(backlog)
        await telegram.wait_for(lambda: len(telegram.sent_to(PRIVATE)) == 1)
        await asyncio.sleep(0.2)  # "backlog 2" is now waiting for the chat's next slot
        await bot.send_message(PRIVATE, "reply")  # urgent: BULK is not set here
        await asyncio.wait_for(worker, 10)
    assert texts(telegram, PRIVATE) == ["backlog 1", "reply", "backlog 2"]
    assert telegram.flood_errors == 0


async def test_the_group_window_keeps_a_reserve_for_urgent_posts(telegram: FakeTelegram) -> None:
    async with paced_bot(telegram, group_pacer()) as bot:
        backlog = [bulk(functools.partial(bot.send_message, GROUP, f"backlog {n}")) for n in range(20)]
        await telegram.wait_for(lambda: len(telegram.sent_to(GROUP)) == 18, timeout=5)  # 20 minus a reserve of 2
        await asyncio.sleep(0.3)
        assert len(telegram.sent_to(GROUP)) == 18
        await asyncio.wait_for(bot.send_message(GROUP, "reply 1"), 1.0)  # the reserve is the replies'
        await asyncio.wait_for(bot.send_message(GROUP, "reply 2"), 1.0)
        third = asyncio.create_task(bot.send_message(GROUP, "reply 3"))
        await asyncio.sleep(0.3)
        assert not third.done()  # the group's 20 a minute are all used now
        await cancel([*backlog, third])
    assert texts(telegram, GROUP)[-2:] == ["reply 1", "reply 2"]
    assert len(telegram.sent_to(GROUP)) == 20 and telegram.flood_errors == 0


async def test_a_post_held_by_the_global_budget_still_keeps_its_chat_pace(telegram: FakeTelegram) -> None:
    """Posts to other groups fill the bot's global second; two posts to one private chat follow.

    The bot's global budget here is a third of the fake's: 30 posts sent at once reach a fake that shares the
    bot's process up to 0.6 s apart when the CPU is busy, past the pacer's margin, and the fake's own global
    second would refuse the first private post. Held by 10 posts, that post tests the chat pace alone.
    """
    pacer = Pacer(
        group_per_minute=FloodLimit.GROUP_MESSAGES_PER_MINUTE,
        chat_per_second=FloodLimit.CHAT_MESSAGES_PER_SECOND,
        global_per_second=FloodLimit.GLOBAL_MESSAGES_PER_SECOND // 3,
    )
    groups = [GROUP - n for n in range(1, FloodLimit.GLOBAL_MESSAGES_PER_SECOND // 3 + 1)]
    for chat_id in groups:
        telegram.add_chat(chat_id)
    async with paced_bot(telegram, pacer) as bot:
        started = time.monotonic()
        await asyncio.gather(*(bot.send_message(chat_id, "fill") for chat_id in groups))
        await bot.send_message(PRIVATE, "first")  # held by the global budget for ~1.15 s
        await bot.send_message(PRIVATE, "second")
    first, second = (s.time for s in telegram.sent_to(PRIVATE))
    assert telegram.flood_errors == 0
    assert first - started >= 1.0  # it was held by the global budget (else it would follow the fills at once)
    assert second - first >= 1.0 - TOLERANCE


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_budgets_of_chats_posted_to_once_are_forgotten_once_as_good_as_new() -> None:
    clock = Clock()
    pacer = Pacer(group_per_minute=20, chat_per_second=1, global_per_second=100_000, clock=clock)
    pacer.push_back(PRIVATE, 5000)  # Telegram asked for a long pause: kept while it lasts
    outsiders = range(-3000, -1000)
    for outsider in outsiders:  # a refusal a second, each to another chat the bridge does not serve
        await pacer.acquire(outsider)
        assert len(pacer._chats) <= FORGET_FROM + 1  # the bound is what is tested
        clock.now += 1

    recent = set(outsiders[-63:])  # posted within their per-minute window (padded: 63.1 s): still in force
    assert recent | {PRIVATE} <= set(pacer._chats)
    clock.now += 3000
    for chat in range(1, FORGET_FROM + 2):
        await pacer.acquire(chat)
    assert PRIVATE not in pacer._chats


async def test_a_budget_someone_waits_for_is_kept() -> None:
    clock = Clock()
    pacer = Pacer(group_per_minute=20, chat_per_second=1, global_per_second=100_000, clock=clock)
    for _ in range(18):  # 20 a minute, 10 % kept for urgent posts: 18 for the backlog
        await pacer.acquire(GROUP)
        clock.now += 1.2
    waiting = asyncio.ensure_future(pacer.acquire(GROUP))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # the group's minute is full
    kept = pacer._chats[GROUP]
    clock.now += 600
    for outsider in range(-2000, -1000):
        await pacer.acquire(outsider)

    assert pacer._chats[GROUP] is kept
    waiting.cancel()


async def test_edits_are_paced_like_posts(telegram: FakeTelegram) -> None:
    async with paced_bot(telegram, real_pacer()) as bot:
        card = await bot.send_message(PRIVATE, "Status: waiting for payment")
        for status in ("paid", "completed"):
            await bot.edit_message_text(f"Status: {status}", chat_id=PRIVATE, message_id=card.message_id)
    calls = [r.time for r in telegram.requests if r.method in {"sendMessage", "editMessageText"}]
    assert len(calls) == 3 and telegram.flood_errors == 0  # Telegram counts edits against the chat's pace
    assert all(later - earlier >= 1.0 - TOLERANCE for earlier, later in itertools.pairwise(calls))


async def test_a_429_on_an_edit_is_waited_out(telegram: FakeTelegram) -> None:
    stats = CallStats()
    async with paced_bot(telegram, real_pacer(), stats) as bot:
        card = await bot.send_message(GROUP, "Status: waiting for payment")
        telegram.inject_retry_after(times=1, retry_after=1, method="editMessageText")
        await bot.edit_message_text("Status: paid", chat_id=GROUP, message_id=card.message_id)
    assert [text for _, _, text in telegram.edits] == ["Status: paid"]
    refused, accepted = (r for r in telegram.requests if r.method == "editMessageText")
    assert accepted.time - refused.time >= 1.0 - TOLERANCE
    assert stats.errors["flood_control"] == 1
