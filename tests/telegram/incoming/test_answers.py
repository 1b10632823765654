"""Answers longer than Telegram takes in one message are split between lines, never lost to a 400."""

from __future__ import annotations

from bridge.sandbox.fake_telegram import SentMessage
from bridge.store import Store
from bridge.telegram.constants import MessageLimit
from tests.factories import order
from tests.harness import TEAM_CHAT, Harness

MANY_ORDERS = 60  # a /list line is about 85 characters as shown: 5,100 in all


def answers(harness: Harness, command: int) -> list[SentMessage]:
    return [s for s in harness.telegram.sent_to(TEAM_CHAT) if s.reply_to == command]


def lines(parts: list[SentMessage]) -> list[str]:
    return [line for part in parts for line in (part.plain or "").splitlines()]


async def test_a_long_list_comes_in_parts_split_between_lines(harness: Harness) -> None:
    ids = [harness.bybit.add_order().id for _ in range(MANY_ORDERS)]
    async with await Store.open(harness.db_path) as store:
        for order_id in ids:
            await store.orders.watch(order(id=order_id), TEAM_CHAT, None, 1)
            await store.orders.set_home(order_id, None, None)
    await harness.start()

    command = harness.say("/list")
    await harness.telegram.wait_for(lambda: sum(len(lines([p])) for p in answers(harness, command)) > MANY_ORDERS)

    parts = answers(harness, command)
    assert len(parts) > 1 and all(len(part.text or "") <= MessageLimit.TEXT for part in parts)
    assert lines(parts)[0] == f"Watching {MANY_ORDERS} order(s):"
    assert [line.split()[1] for line in lines(parts)[1:]] == ids  # every line whole, in order


async def test_watch_with_many_bad_ids_answers_every_one(harness: Harness) -> None:
    await harness.start()
    bad = [f"{n:02d}{'x' * 190}" for n in range(20)]  # a message of 3,860 characters: Telegram takes it

    command = harness.say("/watch " + " ".join(bad))
    await harness.telegram.wait_for(lambda: len(lines(answers(harness, command))) == len(bad))

    parts = answers(harness, command)
    assert len(parts) > 1 and all(len(part.text or "") <= MessageLimit.TEXT for part in parts)
    assert [line.split()[1] for line in lines(parts)] == bad
