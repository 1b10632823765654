"""Unread counts as hints: a count that rose hints its chat once, one that fell or went missing does not; the counts
survive a restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from bridge.core.hints import (
    BLIND_HINT_SHARE,
    HINT_SHARE,
    IDLE_HINT_SHARE,
    LATE_HINT_SHARE,
    MAX_COUNTS,
    MISS_MARGIN,
    TALK_LINGER,
    Hints,
)
from bridge.core.schedule import Schedule
from bridge.core.stats import PollStats
from bridge.store import Store

CHAT = "session:bob"


class Desk:
    """Hints over a real store, and the schedule and wake-up they act on, with one chat read already."""

    def __init__(
        self, store: Store, clock: Callable[[], float] = time.monotonic, bybit_clock: Callable[[], float] = time.time
    ) -> None:
        self.schedule = Schedule(floor=1.0, ceiling=60.0, reads_per_second=10.0, clock=clock)
        self.schedule.track([CHAT])
        for due in self.schedule.take(1):
            self.schedule.done(due.key, news=False)
        self.stats = PollStats()
        self.kick = asyncio.Event()
        self.hints = Hints(store, self.schedule, self.stats, self.kick, clock=clock, bybit_clock=bybit_clock)

    def hinted(self) -> list[str]:
        """The chats hinted since the last call (read at once, so each counts once)."""
        return self.due(hinted_only=True)

    def due(self, *, hinted_only: bool = False) -> list[str]:
        """The chats due now (hinted, or any), read at once, so each counts once."""
        taken = [due.key for due in self.schedule.take(10, hinted_only=hinted_only)]
        for key in taken:
            self.schedule.done(key, news=False)
        self.kick.clear()
        return taken


async def test_a_count_that_changed_hints_its_chat_once(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "h.db") as store:
        desk = Desk(store)
        desk.hints.notice("session", "bob", 0, CHAT)
        assert desk.hinted() == []  # first seen, nothing unread: no news
        desk.hints.notice("session", "bob", 2, CHAT)
        assert desk.kick.is_set()
        assert desk.hinted() == [CHAT]
        desk.hints.notice("session", "bob", 2, CHAT)
        assert desk.hinted() == []  # the same count again is not news
        assert not desk.schedule.blind
        desk.hints.notice("session", "bob", 0, CHAT)  # read in the Bybit app: news may come and go unseen, its talk is
        assert desk.hinted() == desk.due() == [] and desk.schedule.blind  # guessed at (before: hinted, then due)
        desk.hints.notice("order", "1898", 3, None)
        assert desk.due() == []  # counted, but no chat to hint
        assert desk.stats.hints == 1
        assert not desk.hints.quiet()


async def test_after_a_restart_only_a_count_that_changed_meanwhile_is_a_hint(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "h.db") as store:
        before = Desk(store)
        before.hints.notice("session", "bob", 2, CHAT)
        before.hints.notice("session", "eve", 1, "session:eve")
        await before.hints.save()
    async with await Store.open(tmp_path / "h.db") as store:
        after = Desk(store)
        await after.hints.load()
        after.hints.notice("session", "bob", 2, CHAT)
        assert after.hinted() == []
        after.hints.notice("session", "bob", 3, CHAT)
        assert after.hinted() == [CHAT]


async def test_a_count_seen_before_its_order_was_watched_makes_it_due_once_it_is_without_a_hint(tmp_path: Path) -> None:
    """Before: a chat's first count above 0 was a hint; after a /watch of 200, the first sweep put 200 chats whose
    history had just been read before the next real news (detection p95 20 s at 200 / 20 in the bench)."""
    async with await Store.open(tmp_path / "h.db") as store:
        desk = Desk(store)
        desk.hints.notice("order", "1898", 2, None)  # on the open-order list, not watched yet
        desk.hints.notice("order", "1898", 2, CHAT)  # watched now: its unread messages may be news
        assert desk.hinted() == [] and desk.due() == [CHAT]
        desk.hints.notice("order", "1898", 2, CHAT)
        assert desk.due() == []
        desk.hints.notice("order", "1898", 3, CHAT)  # news
        assert desk.hinted() == [CHAT]
        await desk.hints.save()
        desk.hints.notice("order", "1898", 2, None)  # unwatched: its count is forgotten, in the store too
        await desk.hints.save()
    async with await Store.open(tmp_path / "h.db") as store:
        after = Desk(store)
        await after.hints.load()
        after.hints.notice("order", "1898", 2, CHAT)  # watched again after a restart
        assert after.due() == [CHAT]


async def test_a_count_kept_without_a_hint_is_news_only_when_it_changes(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "h.db") as store:
        desk = Desk(store)
        desk.hints.notice("order", "1898", 2, CHAT, hint=False)  # another source brings the news
        assert desk.hinted() == []
        desk.hints.notice("order", "1898", 2, CHAT)  # that source fails: this one hints, at changes only
        assert desk.hinted() == []
        desk.hints.notice("order", "1898", 3, CHAT)
        assert desk.hinted() == [CHAT]


async def test_the_counts_kept_are_bounded_and_a_forgotten_one_hints_once_at_most(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "h.db") as store:
        desk = Desk(store)
        desk.hints.notice("session", "bob", 2, CHAT)
        desk.hinted()
        for n in range(MAX_COUNTS):  # every open order of every counterparty, ever
            desk.hints.notice("order", str(n), 1, f"order:{n}", hint=False)

        assert len(desk.hints._unread) == MAX_COUNTS  # the bound is what is tested
        desk.hints.notice("session", "bob", 2, CHAT)  # bob's count was the first seen: forgotten
        assert desk.due() == [CHAT]
        desk.hints.notice("session", "bob", 2, CHAT)
        assert desk.hinted() == []


async def test_only_a_count_that_rose_keeps_the_hints_read_at_the_talking_pace(tmp_path: Path) -> None:
    """Before: a count that fell (the merchant reading each message in the Bybit app) kept the session list read
    with 90 % of the budget, which the chats' own reads needed (nothing else announced their news)."""
    now = [0.0]
    async with await Store.open(tmp_path / "h.db") as store:
        desk = Desk(store, clock=lambda: now[0])
        desk.hints.notice("session", "bob", 1, CHAT)
        now[0] += TALK_LINGER - 1
        desk.hints.notice("session", "bob", 0, CHAT)  # read in the app: no talk announced
        assert not desk.hints.quiet()
        now[0] += 1
        assert desk.hints.quiet()
        desk.hints.notice("session", "bob", 1, CHAT)
        assert not desk.hints.quiet()


async def test_the_hints_take_their_idle_share_once_quiet_and_half_theirs_while_a_chat_merely_due_waits_long(
    tmp_path: Path,
) -> None:
    """Before, a chat merely due that waited long dropped the lists to their idle share while chats talked: at 200
    chats the session list went from 7 pages a second to 2 for 10-15 s, and hints waited 5-6 s, again and again."""
    now = [0.0]
    async with await Store.open(tmp_path / "h.db") as store:
        desk = Desk(store, clock=lambda: now[0])  # its chat read at 0, next due within the ceiling (60 s)
        assert desk.hints.share() == HINT_SHARE  # (a start counts as talk)
        now[0] = TALK_LINGER
        assert desk.hints.share() == IDLE_HINT_SHARE
        now[0] = 74.0
        desk.hints.notice("session", "carol", 0, "session:carol")  # (a chat the schedule does not know)
        desk.hints.notice("session", "carol", 1, "session:carol")  # talk
        assert desk.hints.share() == HINT_SHARE
        now[0] = 76.0  # the chat merely due has waited a ceiling and a quarter of one more
        assert not desk.hints.quiet() and desk.hints.share() == LATE_HINT_SHARE


async def test_a_count_left_out_keeps_the_one_last_seen_and_leaves_the_schedule_blind(tmp_path: Path) -> None:
    """Before: a session listed as unread without its count counted as 1; a chat whose count had been 2 fell due at
    once at every such change (the counts going missing put every talking chat before the next news), and a hint
    came when the counts returned, for nothing new."""
    now = [0.0]
    async with await Store.open(tmp_path / "h.db") as store:
        desk = Desk(store, clock=lambda: now[0])
        desk.hints.notice("session", "bob", 0, CHAT)
        desk.hints.notice("session", "bob", 2, CHAT)
        assert desk.hinted() == [CHAT]
        now[0] += 1  # (its next regular read is 4 s away)
        desk.hints.notice("session", "bob", 1, CHAT, counted=False)  # listed as unread, its count left out
        assert desk.due() == [] and desk.schedule.blind
        desk.hints.notice("session", "bob", 2, CHAT)  # the counts are back, nothing new
        assert desk.due() == []
        desk.hints.notice("session", "bob", 0, CHAT)
        desk.hints.notice("session", "bob", 1, CHAT, counted=False)  # listed as unread again: news
        assert desk.hinted() == [CHAT]
        now[0] += TALK_LINGER
        assert desk.hints.share() == BLIND_HINT_SHARE  # the counts say nothing: the chats' own reads take the budget


async def test_a_read_finding_a_message_a_count_read_since_did_not_announce_leaves_the_schedule_blind_at_once(
    tmp_path: Path,
) -> None:
    """Before: only three reads in a row finding news no count announced did, so as the merchant began reading in
    the Bybit app the talkers' first messages waited for their regular reads (bench, 200 / 20: 22 and 37 s)."""
    now, bybit_now = [0.0], [5000.0]
    async with await Store.open(tmp_path / "h.db") as store:
        desk = Desk(store, clock=lambda: now[0], bybit_clock=lambda: bybit_now[0])
        desk.hints.notice("session", "bob", 2, CHAT)  # the count, read at Bybit's 5000
        assert desk.hints.missed(CHAT, 5000 - MISS_MARGIN)  # a message that was there when it was read
        assert not desk.hints.missed(CHAT, 5000 - MISS_MARGIN / 2)  # (maybe not yet: the page was on its way)
        assert not desk.hints.missed("session:carol", 0)  # never counted

        now[0] += 60
        for due in desk.schedule.take(1):
            desk.schedule.done(due.key, news=1)  # news no count announced, but no count read since it was written
        assert not desk.schedule.blind
        now[0] += 60
        for due in desk.schedule.take(1):
            desk.schedule.done(due.key, news=1, missed=True)
        assert desk.schedule.blind


async def test_counts_that_rose_before_they_went_missing_do_not_keep_the_hints_at_the_talking_share(
    tmp_path: Path,
) -> None:
    """Before: for 30 s after the last count rose, the lists took the talking share although every count had since
    gone missing, and again once they came back higher (bench, 200 / 20: no chat read for 35 s as the counts came
    back, the session list's pages took the budget)."""
    now = [0.0]
    async with await Store.open(tmp_path / "h.db") as store:
        desk = Desk(store, clock=lambda: now[0])
        desk.hints.notice("session", "bob", 0, CHAT)
        desk.hints.notice("session", "bob", 1, CHAT)  # talk
        assert desk.hints.share() == HINT_SHARE
        now[0] += 1
        desk.hints.notice("session", "bob", 1, CHAT, counted=False)  # the counts go missing: blind
        assert desk.schedule.blind and desk.hints.share() == BLIND_HINT_SHARE
        now[0] += TALK_LINGER
        desk.hints.notice("session", "bob", 4, CHAT)  # back, with what came meanwhile (the reads found it): no talk
        assert desk.hinted() == [CHAT] and desk.hints.share() == BLIND_HINT_SHARE
        desk.hints.notice("session", "bob", 5, CHAT)  # talk
        assert desk.hinted() == [CHAT] and desk.hints.share() == HINT_SHARE
