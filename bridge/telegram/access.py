"""Access control: the bot serves only the configured chats; anyone else gets one short refusal."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Message, TelegramObject

log = logging.getLogger(__name__)

REFUSAL_INTERVAL = 60.0  # seconds between two refusals to the same chat, so nobody can make us spam


class ServedChatsOnly(BaseMiddleware):
    """Outer message middleware: handlers run only for the served chats."""

    def __init__(self, served: frozenset[int]) -> None:
        self._served = served
        self._refused_at: dict[int, float] = {}

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, Message) or event.chat.id in self._served:
            return await handler(event, data)
        if (event.text or "").startswith("/") and self._may_refuse(event.chat.id):
            log.warning("refused a command from chat %s, which is not served", event.chat.id)
            await event.reply(
                f"This chat (id <code>{event.chat.id}</code>) is not served by this bridge. "
                "Ask its operator to add the id to TELEGRAM_ALLOWED_CHAT_IDS."
            )
        return None

    def _may_refuse(self, chat_id: int) -> bool:
        now = time.monotonic()
        if now - self._refused_at.get(chat_id, -REFUSAL_INTERVAL) < REFUSAL_INTERVAL:
            return False
        self._refused_at[chat_id] = now
        return True
