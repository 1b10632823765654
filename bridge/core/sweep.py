"""The session list (``chat/session/list_v1``): which counterparties' chats have unread messages, one call for many."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Collection

from bridge.bybit import SESSION_PAGE_SIZE, URGENT_READS, BybitClient
from bridge.core.failures import Failures
from bridge.core.hints import Hints
from bridge.core.sessions import ListedSessions

log = logging.getLogger(__name__)

SWEEP_LANES = 3  # a long session list is read from this many places at once
HINT_PERIOD = 1.0  # seconds: the session list is read at most this often…
FAILING_PERIOD_CAP = 60.0  # …and, while it keeps failing, ever less often, up to this
UNREAD_SESSIONS = "unread sessions"  # the sweep's name in the failures
NAMING_MIN = 3  # counterparties without a session id worth a read of the list of every session (else getSessionId each)


class SessionSweep:
    """Reads the session list over and over, hinting the watched chats whose unread count changed.

    ``active`` says whether to sweep now (the session API is in use and chats are watched);
    ``hinted_waiting`` whether a hinted chat waits only for the budget (it goes before the next page).
    Its pages are paced to the hints' share of the budget (:meth:`~bridge.core.hints.Hints.share`).
    :attr:`chats` (a counterparty's nickname, as the list names it → the key of its chat) is kept current
    by the poller. :attr:`listed` keeps the session ids the list gave, by nickname.
    """

    def __init__(
        self,
        client: BybitClient,
        hints: Hints,
        failures: Failures,
        *,
        active: Callable[[], bool],
        hinted_waiting: Callable[[], bool],
    ) -> None:
        self._client = client
        self._hints = hints
        self._failures = failures
        self._active = active
        self._hinted_waiting = hinted_waiting
        self.chats: dict[str, str] = {}
        self.listed = ListedSessions()
        self._lanes = [0]  # the cursors the next sweep starts reading at (0: the newest session)
        self._naming = asyncio.Lock()
        self._sought: set[str] = set()  # nicknames a read of every session looked for already

    async def run(self) -> None:
        """Sweep at most every ``HINT_PERIOD``, forever; pages are paced to a share of the read budget.

        A larger share while chats talk, a smaller one when all is quiet, so an idle desk of a thousand
        orders does not sweep flat out.
        """
        URGENT_READS.set(True)  # the hints are how news is found quickly
        period = HINT_PERIOD
        while True:
            started = time.monotonic()
            if self._active():
                swept = await self.sweep()  # (while it fails, the chats are read on their schedule)
                period = HINT_PERIOD if swept else min(period * 2, FAILING_PERIOD_CAP)
            await asyncio.sleep(started + period - time.monotonic())

    async def sweep(self) -> bool:
        """Read the session list once, hinting the chats whose unread count changed, page by page; False if it failed.

        A long list is read in lanes at once, each from a cursor the last sweep saw (any cursors would
        do: a lane reads on until it reaches the next one's start), so its length is not a chain of
        round trips; hinted chats waiting for the budget go before the next page.
        """
        starts = self._lanes
        listed: dict[str, int] = {}  # nickname → cursor
        stops = [*starts[1:], 0]  # each lane reads down to where the next one starts
        lanes = [self._lane(start, stop, len(starts), listed) for start, stop in zip(starts, stops, strict=True)]
        failed = [exc for exc in await asyncio.gather(*lanes, return_exceptions=True) if isinstance(exc, Exception)]
        if failed:
            self._failures.report(UNREAD_SESSIONS, failed[0])
            return False
        self._failures.recovered(UNREAD_SESSIONS)
        for nick in self.chats.keys() - listed.keys():  # not listed: nothing unread
            self._notice(nick, 0)
        await self._hints.save()
        cursors = sorted(set(listed.values()), reverse=True)
        per_lane = max(1, math.ceil(len(cursors) / (SESSION_PAGE_SIZE * SWEEP_LANES))) * SESSION_PAGE_SIZE
        self._lanes = [0, *(cursors[n - 1] for n in range(per_lane, len(cursors), per_lane))]
        return True

    async def name(self, nicks: Collection[str]) -> None:
        """Name the sessions of counterparties that have no session id yet (by nickname) from the list of every
        session, read or not, before their chats are read: a page names up to 20 for one read, where each would cost
        a ``getSessionId`` read (a /watch of hundreds).

        Only when at least ``NAMING_MIN`` of them were not looked for before; at most a page for each of them, newest
        first (a new order's session is near the top); one read at a time, however many chats wait
        for it. What it names is lent by :attr:`listed`; a failure only leaves them to ``getSessionId``.
        """
        async with self._naming:
            self._sought &= set(nicks)
            wanted = set(nicks) - self._sought
            if len(wanted) >= NAMING_MIN:
                self._sought |= wanted
                await self._name(wanted)

    async def _name(self, wanted: set[str]) -> None:
        pages = len(wanted)  # (at worst a read each, as getSessionId would have cost)
        try:
            asked = time.monotonic()
            async for page in self._client.sessions(unread_only=False):
                for session in page:
                    self.listed.listed(session.session_name, session.session_id, asked)
                    wanted.discard(session.session_name)
                pages -= 1
                if not wanted or not pages:
                    return
                asked = time.monotonic()
        except Exception as exc:  # (their chats ask for their sessions one by one)
            log.warning("the list of every chat session failed (%s): each new session is asked for alone", exc)

    async def _lane(self, start: int, stop: int, lanes: int, listed: dict[str, int]) -> None:
        asked = time.monotonic()  # when the page was asked for: its round trip counts in its share's period
        async for page in self._client.sessions(start, stop=stop):
            for session in page:
                listed[session.session_name] = session.cursor
                self.listed.listed(session.session_name, session.session_id, asked)
                unread = 1 if session.unread is None else session.unread  # (listed as unread, its count left out)
                self._notice(session.session_name, unread, counted=session.unread is not None)
            await self._hints.save()
            await self._hints.pace(self._client, asked, self._hinted_waiting, reads=lanes)
            asked = time.monotonic()  # (the next page is asked for as the loop goes on)

    def _notice(self, nick: str, unread: int, *, counted: bool = True) -> None:
        key = self.chats.get(nick)
        if key is not None:  # (unwatched sessions: not kept)
            self._hints.notice("session", nick, unread, key, counted=counted)
