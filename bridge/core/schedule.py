"""When each chat is read next: Bybit's read budget spent where the talk is (knows nothing of Bybit's API).

A chat that just had news is read again after ``floor`` seconds; each read that finds nothing doubles
its interval, up to ``ceiling``. A hint (Bybit's unread counts) makes a chat due at once. Hinted chats
go first, oldest hint first; then every other due chat, longest overdue first. A chat overdue by a
whole ``ceiling`` counts as hinted, so a stream of hints never starves the quiet ones. With more chats
than the budget can read once per ``ceiling``, the ceiling stretches to what the budget allows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

BACKOFF = 2.0  # an idle chat's interval grows by this factor after each read that found nothing
PERIODIC_SHARE = 0.3  # at most this share of the read budget goes to reading every chat once per ceiling


@dataclass
class _Chat:
    due: float
    interval: float
    hinted_at: float | None = None
    reading: bool = False


@dataclass(frozen=True)
class Due:
    """A chat whose read starts now, and how late (seconds past due) it starts."""

    key: str
    lag: float
    hinted: bool


class Schedule:
    """Per-chat adaptive read times between ``floor`` and ``ceiling`` seconds."""

    def __init__(
        self, *, floor: float, ceiling: float, reads_per_second: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.floor = floor
        self._ceiling = max(ceiling, floor)
        self._reads_per_second = reads_per_second
        self._clock = clock
        self._chats: dict[str, _Chat] = {}

    @property
    def stretched(self) -> bool:
        """Whether the budget cannot read every chat once per configured ceiling, so the ceiling is longer."""
        return self.ceiling > self._ceiling

    @property
    def ceiling(self) -> float:
        """The longest interval in force: the configured ceiling, stretched if the budget cannot keep it."""
        return max(self._ceiling, len(self._chats) / (PERIODIC_SHARE * self._reads_per_second))

    def track(self, keys: Iterable[str]) -> None:
        """The chats there are now: new ones are due at once, gone ones forgotten."""
        now = self._clock()
        wanted = set(keys)
        for key in self._chats.keys() - wanted:
            del self._chats[key]
        for key in wanted - self._chats.keys():
            self._chats[key] = _Chat(due=now, interval=self.floor)

    def hint(self, key: str) -> None:
        """Bybit says the chat has news: read it as soon as the budget allows."""
        chat = self._chats.get(key)
        if chat is not None and chat.hinted_at is None:
            chat.hinted_at = self._clock()

    def take(self, at_most: int, *, hinted_only: bool = False) -> list[Due]:
        """Up to ``at_most`` due chats (only hinted ones, if asked), first things first.

        They count as being read until :meth:`done` or :meth:`failed`.
        """
        now = self._clock()
        ceiling = self.ceiling
        ready = []
        for key, chat in self._chats.items():
            since = self._since(chat)
            if chat.reading or since > now or (hinted_only and chat.hinted_at is None):
                continue
            urgent = chat.hinted_at is not None or now - since >= ceiling
            ready.append((not urgent, since, key))
        ready.sort()
        taken = []
        for _, since, key in ready[:at_most]:
            chat = self._chats[key]
            chat.reading = True
            taken.append(Due(key, now - since, chat.hinted_at is not None))
        return taken

    def done(self, key: str, *, news: bool) -> None:
        """A read ended: with news the chat goes back to the floor, without it backs off one step."""
        chat = self._chats.get(key)
        if chat is None:
            return
        chat.interval = self.floor if news else min(chat.interval * BACKOFF, self.ceiling)
        chat.due = self._clock() + chat.interval
        chat.hinted_at = None
        chat.reading = False

    def failed(self, key: str) -> None:
        """A read failed: try again after the floor, keeping its hint and its interval."""
        chat = self._chats.get(key)
        if chat is None:
            return
        chat.due = self._clock() + self.floor
        chat.reading = False

    def next_due(self, *, hinted_only: bool = False) -> float | None:
        """Seconds until the next chat (hinted, if asked) falls due (0: one is due now); None: nothing to read."""
        now = self._clock()
        waiting = [
            chat
            for chat in self._chats.values()
            if not chat.reading and (chat.hinted_at is not None or not hinted_only)
        ]
        if not waiting:
            return None
        return max(0.0, min(self._since(chat) for chat in waiting) - now)

    @staticmethod
    def _since(chat: _Chat) -> float:
        """When the chat fell (or falls) due: its hint, or its interval running out."""
        return chat.due if chat.hinted_at is None else min(chat.hinted_at, chat.due)
