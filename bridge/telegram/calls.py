"""Every Telegram call the bridge makes on its own goes through here: paced, retried, counted."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)

from bridge.errors import ChatUnavailable
from bridge.ratelimit import SlidingWindow

log = logging.getLogger(__name__)

T = TypeVar("T")

NETWORK_RETRY_CAP = 60.0  # seconds between two tries while Telegram is unreachable
CHAT_NOT_FOUND = "chat not found"


class Pacer:
    """Telegram's sending budget: per chat (groups: per minute too) and for the whole bot."""

    def __init__(self, *, group_per_minute: float, chat_per_second: float, global_per_second: float) -> None:
        self._group_per_minute = group_per_minute
        self._chat_per_second = chat_per_second
        self._global = SlidingWindow.per_second(global_per_second)
        self._chats: dict[int, list[SlidingWindow]] = {}

    def _windows(self, chat_id: int) -> list[SlidingWindow]:
        windows = self._chats.get(chat_id)
        if windows is None:
            windows = [SlidingWindow.per_second(self._chat_per_second)]
            if chat_id < 0:  # groups, supergroups and channels have negative ids
                windows.append(SlidingWindow(max(1, int(self._group_per_minute)), 60.0))
            self._chats[chat_id] = windows
        return windows

    async def acquire(self, chat_id: int) -> None:
        """Wait until one more post to ``chat_id`` fits every budget."""
        for window in self._windows(chat_id):
            await window.acquire()
        await self._global.acquire()

    def push_back(self, chat_id: int, seconds: float) -> None:
        """Telegram said ``retry_after``: send nothing more to that chat for ``seconds``."""
        for window in self._windows(chat_id):
            window.push_back(seconds)


@dataclass
class CallStats:
    """What ``/status`` reports about Telegram."""

    last_success: float | None = None
    errors: Counter[str] = field(default_factory=Counter)


class TelegramCaller:
    """Runs one call for a chat within the pacing budget, waiting out 429s and network trouble.

    Raises :class:`ChatUnavailable` when Telegram refuses the chat itself (403, chat not found);
    other refusals (400) pass through for the caller to judge.
    """

    def __init__(self, pacer: Pacer) -> None:
        self._pacer = pacer
        self.stats = CallStats()

    async def __call__(self, chat_id: int, call: Callable[[], Awaitable[T]], *, posts: bool = True) -> T:
        """Run ``call``; ``posts`` says it puts a message in the chat, so it spends the chat's budget."""
        failures = 0
        while True:
            if posts:
                await self._pacer.acquire(chat_id)
            try:
                result = await call()
            except TelegramRetryAfter as exc:
                self.stats.errors["flood_control"] += 1
                log.warning("chat %s: Telegram flood control, waiting %s s", chat_id, exc.retry_after)
                self._pacer.push_back(chat_id, exc.retry_after)
                continue
            except (TelegramForbiddenError, TelegramUnauthorizedError) as exc:
                self.stats.errors["forbidden"] += 1
                raise ChatUnavailable(exc.message) from None
            except TelegramBadRequest as exc:
                self.stats.errors["bad_request"] += 1
                if CHAT_NOT_FOUND in exc.message.lower():
                    raise ChatUnavailable(exc.message) from None
                raise
            except TelegramEntityTooLarge:
                self.stats.errors["too_large"] += 1
                raise
            except (TelegramNetworkError, TelegramServerError) as exc:
                failures += 1
                self.stats.errors["network"] += 1
                delay = min(NETWORK_RETRY_CAP, 2.0 ** (failures - 1))
                log.warning("chat %s: Telegram unreachable (%s), retrying in %.0f s", chat_id, exc, delay)
                await asyncio.sleep(delay)
                continue
            self.stats.last_success = time.time()
            return result
