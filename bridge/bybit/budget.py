"""How the Bybit key's request budget is spent, for /status and the logs."""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field

WINDOW = 60.0  # seconds of requests the figures cover


@dataclass
class BudgetStats:
    """Requests sent to Bybit: how many in the last minute, by endpoint since start, and rate-limit answers."""

    reads_per_second: float
    sent: deque[float] = field(default_factory=deque)
    by_endpoint: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0

    def record(self, path: str) -> None:
        """One request is on its way to Bybit."""
        now = time.monotonic()
        self.sent.append(now)
        self.by_endpoint[path.rsplit("/v5/p2p/", 1)[-1]] += 1
        while self.sent and now - self.sent[0] > WINDOW:
            self.sent.popleft()

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
