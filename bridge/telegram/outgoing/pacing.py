"""Pacing every post below Telegram's flood limits, for the bridge's own posts and its command replies."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import (
    CreateForumTopic,
    EditMessageText,
    PinChatMessage,
    SendDocument,
    SendMessage,
    SendPhoto,
    SendVideo,
    TelegramMethod,
)
from aiogram.methods.base import Response, TelegramType

from bridge.ratelimit import SlidingWindow, acquire_all
from bridge.telegram.outgoing.calls import CallStats

log = logging.getLogger(__name__)

POSTING_METHODS = (SendMessage, SendPhoto, SendDocument, SendVideo, CreateForumTopic, PinChatMessage, EditMessageText)
"""Calls that put a message (or a service message) into a chat or edit one (an order card), so they count
against its limits."""

BULK: ContextVar[bool] = ContextVar("bulk_posting", default=False)
"""Set in tasks that post the backlog (delivery workers); every other post (command replies) goes first."""

GROUP_RESERVE = 0.1  # share of a group's posts per minute the backlog leaves to command replies
SAFETY = 1.05  # stretch each window a little: our clock and Telegram's see a post at slightly different times
SAFETY_SECONDS = 0.1
FORGET_FROM = 256  # chats with a budget beyond which those as good as new are forgotten (any chat may be posted to)


@dataclass
class _ChatBudget:
    windows: list[SlidingWindow]
    waiting: int = 0  # posts waiting for these windows
    fresh_at: float = 0.0  # from then on (with nobody waiting) the windows hold nothing: a new budget is the same


class Pacer:
    """Telegram's sending budget: per chat (groups: per minute too) and for the whole bot.

    A chat's budget is kept while it matters: one as good as new (no post within its windows, no push-back
    in force, nobody waiting) is forgotten once many chats have one, so chats posted to once (a refusal to
    a chat the bridge does not serve) do not pile up.
    """

    def __init__(
        self,
        *,
        group_per_minute: float,
        chat_per_second: float,
        global_per_second: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._group_per_minute = group_per_minute
        self._chat_per_second = chat_per_second
        self._clock = clock
        self._global = _padded(SlidingWindow.per_second(global_per_second), clock)
        self._chats: dict[int, _ChatBudget] = {}

    def _budget(self, chat_id: int) -> _ChatBudget:
        budget = self._chats.get(chat_id)
        if budget is None:
            if len(self._chats) >= FORGET_FROM:
                self._forget_fresh()
            windows = [_padded(SlidingWindow.per_second(self._chat_per_second), self._clock)]
            if chat_id < 0:  # groups, supergroups and channels have negative ids
                limit = max(1, int(self._group_per_minute))
                reserve = min(limit - 1, math.ceil(limit * GROUP_RESERVE))
                windows.append(_padded(SlidingWindow(limit, 60.0, reserve=reserve), self._clock))
            budget = self._chats[chat_id] = _ChatBudget(windows)
        return budget

    def _forget_fresh(self) -> None:
        now = self._clock()
        self._chats = {chat: b for chat, b in self._chats.items() if b.waiting or now < b.fresh_at}

    def _busy_for(self, budget: _ChatBudget, seconds: float) -> None:
        budget.fresh_at = max(budget.fresh_at, self._clock() + seconds)

    async def acquire(self, chat_id: int, *, urgent: bool = False) -> None:
        """Wait until one more post to ``chat_id`` fits every budget; ``urgent`` posts go first."""
        budget = self._budget(chat_id)
        budget.waiting += 1
        try:
            await acquire_all((*budget.windows, self._global), urgent=urgent)
        finally:
            budget.waiting -= 1
        self._busy_for(budget, max(window.period for window in budget.windows))

    def push_back(self, chat_id: int, seconds: float) -> None:
        """Telegram said ``retry_after``: send nothing more to that chat for ``seconds``."""
        budget = self._budget(chat_id)
        for window in budget.windows:
            window.push_back(seconds)
        self._busy_for(budget, seconds)


def posts(method: object) -> bool:
    """Whether a Bot API call puts a message into a chat (or edits one)."""
    return isinstance(method, POSTING_METHODS)


def _padded(window: SlidingWindow, clock: Callable[[], float]) -> SlidingWindow:
    return SlidingWindow(window.limit, window.period * SAFETY + SAFETY_SECONDS, reserve=window.reserve, clock=clock)


class PacingMiddleware(BaseRequestMiddleware):
    """aiogram request middleware: every posting call waits for its budget, and a 429 is waited out.

    Being in the session, it covers the bridge's own posts and the command replies alike, so a
    reply is delayed rather than lost when Telegram applies flood control.
    """

    def __init__(self, pacer: Pacer, stats: CallStats) -> None:
        self._pacer = pacer
        self._stats = stats

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        chat_id = getattr(method, "chat_id", None)
        if not (posts(method) and isinstance(chat_id, int)):
            return await make_request(bot, method)
        while True:
            await self._pacer.acquire(chat_id, urgent=not BULK.get())
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                self._stats.errors["flood_control"] += 1
                log.warning("chat %s: Telegram flood control, waiting %s s", chat_id, exc.retry_after)
                self._pacer.push_back(chat_id, exc.retry_after)
