"""What the poller tells ``/status`` and the metrics endpoint: last success, errors, how late reads were."""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field

LAG_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
"""Upper bounds (seconds) of the poll lag histogram; one more bucket holds everything above."""


@dataclass
class LagHistogram:
    """Seconds from a chat's read falling due (its interval ran out, or a hint came) to the read starting."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(LAG_BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        """Count one read that started ``seconds`` after it was due."""
        self.counts[bisect.bisect_left(LAG_BUCKETS, seconds)] += 1
        self.total += seconds

    @property
    def count(self) -> int:
        """Reads observed."""
        return sum(self.counts)

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, reads at or under it) per bucket, the last bound infinite, as Prometheus wants."""
        bounds = [*LAG_BUCKETS, float("inf")]
        running = 0
        result = []
        for bound, count in zip(bounds, self.counts, strict=True):
            running += count
            result.append((bound, running))
        return result

    def quantile(self, q: float) -> float | None:
        """The upper bound of the bucket holding the ``q`` quantile (None before any read)."""
        total = self.count
        if not total:
            return None
        for bound, running in self.cumulative():
            if running >= q * total:
                return bound
        return float("inf")  # pragma: no cover - the last bucket always holds everything


@dataclass
class PollStats:
    """What ``/status`` and the metrics report about polling."""

    last_success: float | None = None
    errors: Counter[str] = field(default_factory=Counter)
    lag: LagHistogram = field(default_factory=LagHistogram)
    chats: int = 0
    """Chats being read (orders, or counterparties on the session API)."""
    ceiling: float = 0.0
    """The longest interval between two reads of a chat now in force (seconds)."""
    hints: int = 0
    """Reads brought forward by Bybit's unread counts."""
    stretched: bool = False
    """Too many chats for Bybit's budget to read each once per POLL_INTERVAL_MAX: the ceiling is longer."""
    stretched_to: float = 0.0
    """The stretched ceiling last told in the log (0: not stretched)."""
    blind: bool = False
    """Bybit's unread counts miss the news: the spare budget reads every chat in turn."""

    def summary(self) -> str:
        """One line: how many chats, how often at most, how late reads start."""
        late = self.lag.quantile(0.95)
        lateness = "no reads yet" if late is None else f"95 % of reads start within {late:g} s of due"
        stretched = " (POLL_INTERVAL_MAX stretched: too many chats for Bybit's budget)" if self.stretched else ""
        blind = "; Bybit's unread counts miss the news: every chat is read in turn with the spare budget"
        return (
            f"{self.chats} chat(s), each read at least every {self.ceiling:.0f} s{stretched}; {lateness};"
            f" {self.hints} hint(s){blind if self.blind else ''}"
        )
