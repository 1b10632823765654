"""Bybit's unread counts as hints: a count that changed says its chat has news, so it is read first."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from bridge.bybit import BybitClient
from bridge.core.schedule import LATE_SHARE, Schedule
from bridge.core.stats import PollStats
from bridge.ratelimit import YIELD_SECONDS
from bridge.store import Store

UNREAD_KEY = "unread:"  # store keys remembering the unread counts last seen, so a restart hints only at news
TALK_LINGER = 30.0  # seconds after a count last rose during which the hints are read at the talking pace
MAX_COUNTS = 10_000  # counts kept in memory; beyond, the first seen is forgotten (its next count hints once)
HINT_SHARE = 0.9  # the share of the read budget a list of unread counts may take while chats talk (news found first)…
LATE_HINT_SHARE = 0.45  # …or while chats merely due wait long (they catch up, the news is still found in seconds)…
IDLE_HINT_SHARE = 0.2  # …or once no count has risen for TALK_LINGER…
BLIND_HINT_SHARE = 0.05  # …or while they are quiet and miss the news (the chats' own reads find it)
MISS_MARGIN = 2.0  # seconds a count must have been read after a message for its not rising to say it missed it


async def after_hinted(client: BybitClient, hinted_waiting: Callable[[], bool], *, patience: float = math.inf) -> None:
    """Wait while a hinted chat waits only for the read budget (until it has room for it, or the read started), or
    ``patience`` seconds at most."""
    deadline = time.monotonic() + patience
    while hinted_waiting() and time.monotonic() < deadline:
        await asyncio.sleep(max(YIELD_SECONDS, client.read_delay(urgent=True)))


class Hints:
    """The unread counts last seen, by source (the open-order list, the session list) and chat, kept in the store.

    A count that changed hints its chat to the schedule and wakes the reader (``kick``).
    """

    def __init__(
        self,
        store: Store,
        schedule: Schedule,
        stats: PollStats,
        kick: asyncio.Event,
        *,
        clock: Callable[[], float] = time.monotonic,
        bybit_clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._bybit_clock = bybit_clock
        self._store = store
        self._schedule = schedule
        self._stats = stats
        self._kick = kick
        self._unread: dict[tuple[str, str], int] = {}  # (source, order or nickname) → unread count last seen
        self._unsaved: dict[str, int] = {}  # …the counts that changed since they were last stored
        self._talked = self._clock()  # when a count last rose (a start counts: what came while down)
        self._counted_at: dict[str, float] = {}  # chat key → when (Bybit's clock) a count of it was last read
        self._left_out: set[tuple[str, str]] = set()  # counts Bybit left out last time (one back is no talk)

    async def load(self) -> None:
        """The counts stored before a restart: only a count that changed meanwhile is a hint."""
        for name, count in (await self._store.values.with_prefix(UNREAD_KEY)).items():
            source, _, chat = name.partition(":")
            self._unread[source, chat] = int(count)

    def notice(
        self, source: str, name: str, unread: int, key: str | None, *, hint: bool = True, counted: bool = True
    ) -> None:
        """Hint chat ``key`` if ``name``'s unread count rose (``hint`` False: keep the count, another source hints;
        ``counted`` False: Bybit left the count out, ``unread`` is what is known without it, at least).

        A count seen while no chat is watched for it (``key`` None) is not kept. A chat's first count above 0
        (what its first read found, as a /watch reads the history at once) falls due at once, without a hint's
        precedence, so a /watch of hundreds does not put hundreds of chats before the next real news. A count
        that fell (read in the Bybit app: news may come and go unseen) or was left out cannot announce the
        chat's news: its talk is guessed at again (:meth:`~bridge.core.schedule.Schedule.unannounced`); a count
        left out keeps the one last seen, unless more is known. A count back higher than before it was left out
        hints its chat, but is not talk (:meth:`quiet`): it may be what the chats' own reads found meanwhile.
        """
        if key is None:
            self._left_out.discard((source, name))
            if self._unread.pop((source, name), 0):  # (watched before: its count is forgotten after a restart too)
                self._unsaved[f"{UNREAD_KEY}{source}:{name}"] = 0
            return
        before = self._unread.get((source, name))
        if hint and counted:
            if key not in self._counted_at and len(self._counted_at) >= MAX_COUNTS:
                del self._counted_at[next(iter(self._counted_at))]
            self._counted_at[key] = self._bybit_clock()
        back = counted and (source, name) in self._left_out  # (what came while it was left out: no talk now)
        if not counted:
            self._left_out.add((source, name))
            if hint:
                self._schedule.unannounced(key)
            if before is not None and before >= unread:
                return
        else:
            self._left_out.discard((source, name))
        if unread == before:
            return
        if before is None and len(self._unread) >= MAX_COUNTS:
            del self._unread[next(iter(self._unread))]
        self._unread[source, name] = self._unsaved[f"{UNREAD_KEY}{source}:{name}"] = unread
        if not hint or unread == (before or 0):
            return
        if before is None:
            self._schedule.soon(key)
        elif unread < before:
            self._schedule.unannounced(key)
            return
        else:
            self._stats.hints += 1
            self._talked = self._talked if back else self._clock()
            self._schedule.hint(key)
        self._kick.set()

    def missed(self, key: str, created: float) -> bool:
        """Whether a count of chat ``key`` was read ``MISS_MARGIN`` or more after a message created at ``created``
        (Bybit's clock, epoch seconds): if that count announced nothing, the counts miss the news (read in the
        Bybit app at once)."""
        return self._counted_at.get(key, -math.inf) - created >= MISS_MARGIN

    def quiet(self) -> bool:
        """Whether no count has risen for ``TALK_LINGER`` seconds (the hints may then be read more slowly).

        Counts that never move while the merchant reads in the Bybit app, or only fall, announce nothing: they
        are not worth the budget the chats' own reads could use.
        """
        return self._clock() - self._talked >= TALK_LINGER

    def share(self) -> float:
        """The share of the read budget a list of unread counts may take now: ``HINT_SHARE`` while counts rise,
        ``LATE_HINT_SHARE`` while a chat merely due has gone unread for a ceiling and ``LATE_SHARE`` of one more
        (however busy the hints, they never take its turn), ``IDLE_HINT_SHARE`` once quiet; ``BLIND_HINT_SHARE``
        while quiet and the schedule is blind (:attr:`~bridge.core.schedule.Schedule.blind`: the counts miss the
        news), or blind and no count has risen since it went blind (counts left out never rise: the talk before
        says nothing)."""
        if self._schedule.blind and (self.quiet() or self._talked < self._schedule.blind_since):
            return BLIND_HINT_SHARE
        if self.quiet():
            return IDLE_HINT_SHARE
        return LATE_HINT_SHARE if self._schedule.late() > self._schedule.ceiling * LATE_SHARE else HINT_SHARE

    async def pace(
        self, client: BybitClient, asked: float, hinted_waiting: Callable[[], bool], *, reads: int = 1
    ) -> None:
        """Wait until a list page asked for at ``asked`` (monotonic), one of ``reads`` read at once, has taken no more
        than :meth:`share` of the budget; then while a hinted chat waits only for the budget (it goes first)."""
        await asyncio.sleep(asked + reads / (self.share() * client.reads_per_second) - time.monotonic())
        await after_hinted(client, hinted_waiting)

    async def save(self) -> None:
        """Store the counts that changed since the last save."""
        if self._unsaved:
            unsaved, self._unsaved = self._unsaved, {}
            await self._store.values.set_many({key: str(count) for key, count in unsaved.items()})
