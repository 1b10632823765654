"""The poller's failures: every one counted, each logged once per chat until that chat works again."""

from __future__ import annotations

import logging
import time

from bridge.core.stats import PollStats
from bridge.errors import BybitAuthError, BybitError

log = logging.getLogger(__name__)

ANY_CHAT = "*"  # the key of failures that are not about one chat (refused credentials)


class Failures:
    """What failed last per chat (or per other read: the open-order list, the session list…)."""

    def __init__(self, stats: PollStats) -> None:
        self._stats = stats
        self._last: dict[str, str] = {}  # chat → the kind of its last failure, until it works again
        self._refused = ""  # the read Bybit last refused the credentials on

    def failing(self, chat: str) -> bool:
        """Whether ``chat`` failed last time."""
        return chat in self._last

    def report(self, chat: str, exc: Exception) -> None:
        """Count every failure; log it once per chat (auth failures once in all), not every poll."""
        self._stats.errors[type(exc).__name__] += 1
        key = ANY_CHAT if isinstance(exc, BybitAuthError) else chat
        # Bybit's texts carry timestamps; the kind and code say whether this is news.
        signature = f"{type(exc).__name__}:{exc.code}" if isinstance(exc, BybitError) else type(exc).__name__
        if self._last.get(key) == signature:
            return
        self._last[key] = signature
        if isinstance(exc, BybitAuthError):
            self._refused = chat
            log.error("Bybit refused the API credentials: %s; check BYBIT_API_KEY and BYBIT_API_SECRET", exc)
        elif isinstance(exc, BybitError):
            log.error("%s: polling failed: %s", chat, exc)
        else:
            log.exception("%s: polling failed unexpectedly", chat)

    def recovered(self, chat: str, *, called_bybit: bool = True) -> None:
        """``chat`` works again; the credentials too, if it is the read they were refused on.

        (Only that read says so: a key may lack the permission for one endpoint and work for the others.)
        """
        if called_bybit:
            self._stats.last_success = time.time()
        for key in (chat, ANY_CHAT) if chat == self._refused else (chat,):
            if self._last.pop(key, None) is not None:
                log.info("%s: polling works again", chat)
