"""A sliding-window limiter: at most ``limit`` events in any ``period`` seconds."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Sequence

YIELD_SECONDS = 0.01  # how often a caller that gave way to an urgent one looks again


class SlidingWindow:
    """Await :meth:`acquire` before each event; it sleeps just long enough to stay within the window.

    One instance serves one budget (Bybit's reads per second, one Telegram chat, all of Telegram).
    An *urgent* caller takes the next free slot before any other waiting caller; the others together
    take at most ``limit - reserve`` events a period, so urgent ones always find room however busy the
    rest is. ``smooth``: events are also at least ``period / limit`` apart, never a burst of the whole
    window (a server counting on arrival sees them bunched by its own queue otherwise). ``clock`` is
    injectable for tests.
    """

    def __init__(
        self,
        limit: int,
        period: float,
        *,
        reserve: int = 0,
        smooth: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or period <= 0 or not 0 <= reserve < limit:
            raise ValueError("limit must be >= 1, period > 0 and 0 <= reserve < limit")
        self.limit = limit
        self.period = period
        self.reserve = reserve
        self.smooth = smooth
        self._clock = clock
        self._events: deque[float] = deque()
        self._calm: deque[float] = deque()  # the events of callers that were not urgent
        self._urgent = 0
        self._cut: tuple[int, float] | None = None  # (events allowed, until when) after a server said: too many
        self._cut_at = -math.inf
        self._resume_at = -math.inf  # after a pause (push_back): nothing before then

    @classmethod
    def per_second(
        cls, rate: float, *, margin: float = 0.0, reserve: float = 0.0, smooth: bool = False
    ) -> SlidingWindow:
        """A window for a rate that may be fractional (0.5/s becomes 1 per 2 s), ``margin`` seconds longer.

        The margin keeps a budget that the server counts on arrival when the network bunches requests up.
        ``reserve`` is the share of the limit kept for urgent callers (none when the limit is too small).
        """
        if rate >= 1:
            return cls(int(rate), 1.0 + margin, reserve=int(int(rate) * reserve), smooth=smooth)
        return cls(1, 1.0 / rate + margin, smooth=smooth)

    def delay(self, *, urgent: bool = True) -> float:
        """Seconds until one more event fits (0 when it fits now); not urgent, the reserve stays free."""
        now = self._clock()
        for events in (self._events, self._calm):
            while events and now - events[0] >= self.period:
                events.popleft()
        limit = self.in_force
        wait = self._wait(self._events, limit, now)
        if not urgent:
            wait = max(wait, self._wait(self._calm, max(1, limit - self.reserve), now))
        if self.smooth:
            last = self._events[-1] if self._events else -math.inf
            wait = max(wait, last + self.period / self.limit - now)
        return max(wait, self._resume_at - now, 0.0)

    @property
    def in_force(self) -> int:
        """The limit in force now: lower for a while after :meth:`shrink`."""
        if self._cut is not None:
            if self._clock() < self._cut[1]:
                return self._cut[0]
            self._cut = None
        return self.limit

    def _wait(self, events: deque[float], room: int, now: float) -> float:
        """Seconds until ``events`` hold fewer than ``room`` within the period."""
        return 0.0 if len(events) < room else events[len(events) - room] + self.period - now

    async def acquire(self, *, urgent: bool = False) -> None:
        """Wait for a slot and take it; ``urgent`` callers go first."""
        await acquire_all((self,), urgent=urgent)

    def take(self, *, urgent: bool = True) -> None:
        """Count one event now (the caller checked :meth:`delay`)."""
        now = self._clock()
        self._events.append(now)
        if not urgent:
            self._calm.append(now)

    def shrink(self, fraction: float, seconds: float) -> int:
        """Allow only ``fraction`` of the limit (at least 1) for the next ``seconds``; returns the limit in force.

        Cuts stack while in force (each one from the limit then in force), so repeated refusals go lower;
        refusals within one period of the last cut are the same burst and cut once.
        """
        now = self._clock()
        if now - self._cut_at < self.period:
            return self.in_force
        reduced = max(1, int(self.in_force * fraction))
        self._cut, self._cut_at = (reduced, now + seconds), now
        return reduced

    def push_back(self, seconds: float) -> None:
        """Take no event for ``seconds`` (after a server said: slow down); then the window is free again.

        A ``smooth`` window then takes one event a step, which a server whose own window frees one request
        at a time (Bybit) needs: the whole window at once would send a burst it refuses again.
        """
        self._events.clear()
        self._calm.clear()
        self._resume_at = self._clock() + seconds


async def acquire_all(windows: Sequence[SlidingWindow], *, urgent: bool = False) -> None:
    """Wait until one more event fits every window at once, then count it in all of them.

    No slot is taken while another window still makes the caller wait, so a window never records an
    event earlier than it happens. Urgent callers go first in every window they wait on.
    """
    for window in windows:
        window._urgent += urgent
    try:
        while True:
            wait = max(window.delay(urgent=urgent) for window in windows)
            give_way = not urgent and any(window._urgent for window in windows)
            if wait <= 0 and not give_way:
                for window in windows:
                    window.take(urgent=urgent)
                return
            await asyncio.sleep(max(wait, YIELD_SECONDS))
    finally:
        for window in windows:
            window._urgent -= urgent
