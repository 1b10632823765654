"""How the Bybit key's request budget is spent, for /status, the logs and the metrics endpoint."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
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
    """Requests sent to Bybit: how many in the last minute, by endpoint since start, and how each ended."""

    reads_per_second: float
    sent: deque[float] = field(default_factory=deque)
    by_endpoint: Counter[str] = field(default_factory=Counter)
    results: Counter[tuple[str, str]] = field(default_factory=Counter)

    def record(self, path: str) -> None:
        """One request is on its way to Bybit."""
        now = time.monotonic()
        self.sent.append(now)
        self.by_endpoint[endpoint(path)] += 1
        while self.sent and now - self.sent[0] > WINDOW:
            self.sent.popleft()

    def answered(self, path: str, answer: Outcome | int) -> None:
        """A request to ``path`` ended: with Bybit's return code, or an :class:`Outcome`."""
        self.results[endpoint(path), _result(answer)] += 1

    @property
    def rate_limited(self) -> int:
        """Rate-limit answers (10006) since start."""
        return sum(count for (_, result), count in self.results.items() if result == RATE_LIMITED)

    @property
    def total(self) -> int:
        """Requests sent since start."""
        return sum(self.by_endpoint.values())

    def per_second(self) -> float:
        """Requests a second over the last minute."""
        now = time.monotonic()
        return sum(1 for moment in self.sent if now - moment <= WINDOW) / WINDOW

    def summary(self) -> str:
        """One line: the rate against the budget, the busiest endpoints, rate-limit answers."""
        busiest = ", ".join(f"{name} {count}" for name, count in self.by_endpoint.most_common(3)) or "none yet"
        return (
            f"{self.per_second():.2f}/s of {self.reads_per_second:g}/s over the last minute;"
            f" most calls: {busiest}; rate-limited {self.rate_limited} time(s)"
        )


async def log_budget(stats: BudgetStats, period: float = WINDOW) -> None:
    """Forever: every ``period`` seconds in which Bybit was called, log :meth:`BudgetStats.summary` (INFO)."""
    logged = stats.total
    while True:
        await asyncio.sleep(period)
        if stats.total != logged:
            logged = stats.total
            log.info("bybit budget: %s", stats.summary())
