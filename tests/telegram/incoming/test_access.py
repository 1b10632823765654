"""The access check: chats the bridge does not serve get one refusal a minute, and what they leave is bounded."""

from __future__ import annotations

from pathlib import Path

from bridge.store import Store
from bridge.telegram.incoming.access import MAX_REFUSED_CHATS, REFUSAL_INTERVAL, ServedChatsOnly


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_refusal_bookkeeping_is_bounded_and_forgets_after_the_interval(tmp_path: Path) -> None:
    clock = Clock()
    async with await Store.open(tmp_path / "a.db") as store:
        access = ServedChatsOnly(frozenset({-100}), store, clock)
        answered = [access._may_refuse(chat) for chat in range(1, 2 * MAX_REFUSED_CHATS)]

        assert sum(answered) == MAX_REFUSED_CHATS  # beyond the bound, chats get no answer within the minute
        assert not access._may_refuse(1)  # one refusal a minute per chat
        clock.now += REFUSAL_INTERVAL
        assert access._may_refuse(5000) and access._may_refuse(1)
        assert len(access._refused_at) == 2  # the expired ones are gone
