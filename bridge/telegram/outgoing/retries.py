"""Trying again ever later: what failed waits a doubling time before its next try, never a tight loop."""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class Retries(Generic[K]):
    """Per key, the failures in a row and when the next try is due: ``base`` seconds, doubled per failure."""

    def __init__(self, base: float, cap: float) -> None:
        self._base = base
        self._cap = cap
        self._failed: dict[K, tuple[int, float]] = {}

    def due(self, key: K) -> bool:
        """Whether ``key`` may be tried now (it never failed, or its wait is over)."""
        failed = self._failed.get(key)
        return failed is None or failed[1] <= time.monotonic()

    def failed(self, key: K) -> tuple[int, float]:
        """Count one more failure; returns the failures in a row and the seconds until the next try."""
        failures = self._failed.get(key, (0, 0.0))[0] + 1
        delay = min(self._cap, self._base * 2 ** (failures - 1))
        self._failed[key] = (failures, time.monotonic() + delay)
        return failures, delay

    def succeeded(self, key: K) -> bool:
        """Forget ``key``'s failures (it worked, or is given up); True if it had any."""
        return self._failed.pop(key, None) is not None
