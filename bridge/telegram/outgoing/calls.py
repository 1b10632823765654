"""Every Telegram call the bridge makes on its own goes through here: retried and counted; every call is tallied."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiohttp import ClientConnectorError

from bridge.errors import ChatUnavailable, TelegramAnswerLost
from bridge.telegram.outgoing.refusals import Refusal, refusal

log = logging.getLogger(__name__)

T = TypeVar("T")

NETWORK_RETRY_CAP = 60.0  # seconds between two tries while no connection to Telegram can be made

_RESULTS: tuple[tuple[type[Exception], str], ...] = (
    (TelegramRetryAfter, "429"),
    (TelegramMigrateToChat, "400"),  # a 400 that names the supergroup the group became
    (TelegramBadRequest, "400"),
    (TelegramUnauthorizedError, "401"),
    (TelegramForbiddenError, "403"),
    (TelegramNotFound, "404"),
    (TelegramConflictError, "409"),
    (TelegramEntityTooLarge, "413"),  # before its base class, TelegramNetworkError
    (TelegramServerError, "5xx"),
)
"""The result label of each refusal, checked in this order."""


@dataclass
class CallStats:
    """What ``/status`` and the metrics report about Telegram: last success, errors by kind, every call's result,
    and the chats whose posts are held because the store refused to record one (next try, epoch s; why).
    """

    last_success: float | None = None
    errors: Counter[str] = field(default_factory=Counter)
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    store_holds: dict[int, tuple[float, str]] = field(default_factory=dict)


def timed_out(exc: Exception) -> bool:
    """Whether Telegram did not answer in time (the call may have taken effect)."""
    return isinstance(exc.__cause__, TimeoutError)


def never_sent(exc: Exception) -> bool:
    """Whether the call never left: no connection to Telegram (or the proxy) could be made."""
    return isinstance(exc.__cause__, ClientConnectorError)


def _result_of(exc: Exception) -> str:
    """A failed call's result label: ``429``, ``400``, ``403``, ``5xx``, ``timeout``, ``network``, …, ``other``."""
    for kind, label in _RESULTS:
        if isinstance(exc, kind):
            return label
    if isinstance(exc, TelegramNetworkError):
        return "timeout" if timed_out(exc) else "network"
    return "other"


class CallCounter(BaseRequestMiddleware):
    """aiogram request middleware: counts every Bot API call by method and result in ``stats.calls``.

    Registered after the pacing middleware, it sees each attempt (a 429 waited out and sent again counts twice).
    """

    def __init__(self, stats: CallStats) -> None:
        self._stats = stats

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        try:
            response = await make_request(bot, method)
        except Exception as exc:
            self._stats.calls[method.__api_method__, _result_of(exc)] += 1
            raise
        self._stats.calls[method.__api_method__, "ok"] += 1
        return response


class TelegramCaller:
    """Runs one call for a chat, waiting while no connection can be made (429s are the pacing middleware's).

    Raises :class:`ChatUnavailable` when Telegram refuses the chat itself (403, chat not found) and
    :class:`TelegramAnswerLost` when the call went out but its answer did not come back (no answer in
    time, the connection reset, a 5xx from Telegram or a proxy): it may have taken effect, so it is not
    repeated here. Other refusals (400) pass through for the caller to judge.
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
            except TelegramNetworkError as exc:
                if timed_out(exc):
                    self.stats.errors["timeout"] += 1
                    raise TelegramAnswerLost("Telegram did not answer in time") from None
                self.stats.errors["network"] += 1
                if not never_sent(exc):
                    raise TelegramAnswerLost(f"Telegram's answer was lost ({exc.message})") from None
                failures += 1
                delay = min(NETWORK_RETRY_CAP, 2.0 ** (failures - 1))
                log.warning("chat %s: Telegram unreachable (%s), retrying in %.0f s", chat_id, exc, delay)
                await asyncio.sleep(delay)
                continue
            except TelegramServerError as exc:
                self.stats.errors["server_error"] += 1
                raise TelegramAnswerLost(f"Telegram answered {exc.message}") from None
            self.stats.last_success = time.time()
            return result
