"""How the Bybit key's request budget is spent, for /status, the logs and the metrics endpoint."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from bridge.bybit.constants import RetCode

log = logging.getLogger(__name__)

WINDOW = 60.0  # seconds of requests the figures cover
RATE_LIMITED = "rate_limited"


class Outcome(StrEnum):
    """How a request ended when Bybit gave no return code (Bybit's codes count as ``ok``, ``ret_<code>``)."""

    TRANSPORT_ERROR = "transport_error"  # timeout, refused or reset connection
    HTTP_403 = "http_403"  # Bybit's edge bans the IP
    HTTP_5XX = "http_5xx"
    BAD_ANSWER = "bad_answer"  # a body that is not Bybit's JSON


def endpoint(path: str) -> str:
    """The short name of a Bybit path: ``order/info`` for ``/v5/p2p/order/info``."""
    return path.rsplit("/v5/p2p/", 1)[-1]


def _result(answer: Outcome | int) -> str:
    """The result label of a request: an :class:`Outcome`, or ``ok``, ``rate_limited``, ``ret_<code>``."""
    if isinstance(answer, Outcome):
        return answer.value
    if answer == RetCode.OK:
        return "ok"
    return RATE_LIMITED if answer == RetCode.RATE_LIMIT else f"ret_{answer}"


@dataclass
class BudgetStats:
    """Requests sent to Bybit: the last minute's by endpoint and result, and every one since start."""

    reads_per_second: float
    recent: deque[tuple[float, str, str]] = field(default_factory=deque)
    """(when, endpoint, result) of the requests of the last minute; the result is "" until answered."""
    by_endpoint: Counter[str] = field(default_factory=Counter)
    results: Counter[tuple[str, str]] = field(default_factory=Counter)
    clock: Callable[[], float] = time.monotonic

    def record(self, path: str) -> None:
        """One request is on its way to Bybit."""
        now = self.clock()
        self.recent.append((now, endpoint(path), ""))
        self.by_endpoint[endpoint(path)] += 1
        while self.recent and now - self.recent[0][0] > WINDOW:
            self.recent.popleft()

    def answered(self, path: str, answer: Outcome | int) -> None:
        """A request to ``path`` ended: with Bybit's return code, or an :class:`Outcome`."""
        result = _result(answer)
        self.results[endpoint(path), result] += 1
        if result == RATE_LIMITED:
            self.recent.append((self.clock(), endpoint(path), result))

    @property
    def rate_limited(self) -> int:
        """Rate-limit answers (10006) since start."""
        return sum(count for (_, result), count in self.results.items() if result == RATE_LIMITED)

    @property
    def total(self) -> int:
        """Requests sent since start."""
        return sum(self.by_endpoint.values())

    def _last_minute(self) -> list[tuple[float, str, str]]:
        now = self.clock()
        return [entry for entry in self.recent if now - entry[0] <= WINDOW]

    def per_second(self) -> float:
        """Requests a second over the last minute."""
        return sum(1 for _, _, result in self._last_minute() if not result) / WINDOW

    def summary(self) -> str:
        """One line, all of the last minute: the rate against the budget, the busiest endpoints, rate limits."""
        minute = self._last_minute()
        calls = Counter(name for _, name, result in minute if not result)
        busiest = ", ".join(f"{name} {count}" for name, count in calls.most_common(3)) or "none"
        limited = sum(1 for _, _, result in minute if result)
        return (
            f"{self.per_second():.2f}/s of {self.reads_per_second:g}/s over the last minute; most calls in it:"
            f" {busiest}; rate-limited {limited} time(s) in it ({self.rate_limited} since start)"
        )


async def log_budget(stats: BudgetStats, period: float = WINDOW) -> None:
    """Forever: every ``period`` seconds in which Bybit was called, log :meth:`BudgetStats.summary` (INFO)."""
    logged = stats.total
    while True:
        await asyncio.sleep(period)
        if stats.total != logged:
            logged = stats.total
            log.info("bybit budget: %s", stats.summary())
