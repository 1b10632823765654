"""Pacing every post below Telegram's flood limits, for the bridge's own posts and its command replies."""

from __future__ import annotations

import logging
import math
from contextvars import ContextVar

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


class Pacer:
    """Telegram's sending budget: per chat (groups: per minute too) and for the whole bot."""

    def __init__(self, *, group_per_minute: float, chat_per_second: float, global_per_second: float) -> None:
        self._group_per_minute = group_per_minute
        self._chat_per_second = chat_per_second
        self._global = _padded(SlidingWindow.per_second(global_per_second))
        self._chats: dict[int, list[SlidingWindow]] = {}

    def _windows(self, chat_id: int) -> list[SlidingWindow]:
        windows = self._chats.get(chat_id)
        if windows is None:
            windows = [_padded(SlidingWindow.per_second(self._chat_per_second))]
            if chat_id < 0:  # groups, supergroups and channels have negative ids
                limit = max(1, int(self._group_per_minute))
                reserve = min(limit - 1, math.ceil(limit * GROUP_RESERVE))
                windows.append(_padded(SlidingWindow(limit, 60.0, reserve=reserve)))
            self._chats[chat_id] = windows
        return windows

    async def acquire(self, chat_id: int, *, urgent: bool = False) -> None:
        """Wait until one more post to ``chat_id`` fits every budget; ``urgent`` posts go first."""
        await acquire_all((*self._windows(chat_id), self._global), urgent=urgent)

    def push_back(self, chat_id: int, seconds: float) -> None:
        """Telegram said ``retry_after``: send nothing more to that chat for ``seconds``."""
        for window in self._windows(chat_id):
            window.push_back(seconds)


def posts(method: object) -> bool:
    """Whether a Bot API call puts a message into a chat (or edits one)."""
    return isinstance(method, POSTING_METHODS)


def _padded(window: SlidingWindow) -> SlidingWindow:
    return SlidingWindow(window.limit, window.period * SAFETY + SAFETY_SECONDS, reserve=window.reserve)


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
