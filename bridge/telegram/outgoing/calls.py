"""Every Telegram call the bridge makes on its own goes through here: retried and counted."""

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
    TelegramServerError,
    TelegramUnauthorizedError,
)

from bridge.errors import ChatUnavailable, TelegramTimedOut
from bridge.telegram.outgoing.refusals import Refusal, refusal

log = logging.getLogger(__name__)

T = TypeVar("T")

NETWORK_RETRY_CAP = 60.0  # seconds between two tries while Telegram is unreachable


@dataclass
class CallStats:
    """What ``/status`` reports about Telegram."""

    last_success: float | None = None
    errors: Counter[str] = field(default_factory=Counter)


class TelegramCaller:
    """Runs one call for a chat, waiting out network trouble (429s are the pacing middleware's).

    Raises :class:`ChatUnavailable` when Telegram refuses the chat itself (403, chat not found) and
    :class:`TelegramTimedOut` when it did not answer in time: the call may have taken effect, so it is
    not repeated here. Other refusals (400) pass through for the caller to judge.
    """

    def __init__(self, stats: CallStats) -> None:
        self.stats = stats

    async def __call__(self, chat_id: int, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call`` (the pacing middleware spaces it), retrying until Telegram takes it or refuses."""
        failures = 0
        while True:
            try:
                result = await call()
            except (TelegramForbiddenError, TelegramUnauthorizedError) as exc:
                self.stats.errors["forbidden"] += 1
                raise ChatUnavailable(exc.message) from None
            except TelegramBadRequest as exc:
                self.stats.errors["bad_request"] += 1
                if refusal(exc) is Refusal.CHAT_GONE:
                    raise ChatUnavailable(exc.message) from None
                raise
            except TelegramEntityTooLarge:
                self.stats.errors["too_large"] += 1
                raise
            except (TelegramNetworkError, TelegramServerError) as exc:
                if isinstance(exc.__cause__, TimeoutError):
                    self.stats.errors["timeout"] += 1
                    raise TelegramTimedOut("Telegram did not answer in time") from None
                failures += 1
                self.stats.errors["network"] += 1
                delay = min(NETWORK_RETRY_CAP, 2.0 ** (failures - 1))
                log.warning("chat %s: Telegram unreachable (%s), retrying in %.0f s", chat_id, exc, delay)
                await asyncio.sleep(delay)
                continue
            self.stats.last_success = time.time()
            return result
