"""A sliding-window limiter: at most ``limit`` events in any ``period`` seconds."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable


class SlidingWindow:
    """Await :meth:`acquire` before each event; it sleeps just long enough to stay within the window.

    One instance serves one budget (Bybit's reads per second, one Telegram chat, all of Telegram).
    ``clock`` is injectable for tests.
    """

    def __init__(self, limit: int, period: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("limit must be >= 1 and period > 0")
        self.limit = limit
        self.period = period
        self._clock = clock
        self._events: deque[float] = deque()
        self._lock = asyncio.Lock()

    @classmethod
    def per_second(cls, rate: float) -> SlidingWindow:
        """A window for a rate that may be fractional (0.5/s becomes 1 per 2 s)."""
        if rate >= 1:
            return cls(int(rate), 1.0)
        return cls(1, 1.0 / rate)

    def delay(self) -> float:
        """Seconds until one more event fits (0 when it fits now)."""
        now = self._clock()
        while self._events and now - self._events[0] >= self.period:
            self._events.popleft()
        if len(self._events) < self.limit:
            return 0.0
        return self._events[0] + self.period - now

    async def acquire(self) -> None:
        """Wait for a slot and take it."""
        async with self._lock:
            while (wait := self.delay()) > 0:
                await asyncio.sleep(wait)
            self._events.append(self._clock())

    def push_back(self, seconds: float) -> None:
        """Treat the window as full for ``seconds`` (after a server said: slow down)."""
        until = self._clock() + seconds - self.period
        self._events.clear()
        self._events.extend([until] * self.limit)
