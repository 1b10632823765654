"""Access control: the bot serves only the configured chats; anyone else gets one short refusal."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Chat, Message, TelegramObject

from bridge.store import Store

log = logging.getLogger(__name__)

REFUSAL_INTERVAL = 60.0  # seconds between two refusals to the same chat, so nobody can make us spam
MAX_REFUSED_CHATS = 1000  # chats refused within REFUSAL_INTERVAL that are remembered; beyond, no refusal is sent


class ServedChatsOnly(BaseMiddleware):
    """Outer middleware: handlers run only for served chats (and the supergroups they became)."""

    def __init__(self, served: frozenset[int], store: Store, clock: Callable[[], float] = time.monotonic) -> None:
        self._served = served
        self._store = store
        self._clock = clock
        self._refused_at: dict[int, float] = {}

    async def serves(self, chat_id: int) -> bool:
        """Whether ``chat_id`` is configured, or is what a configured group was migrated to."""
        return chat_id in self._served or await self._store.chats.moved_from(chat_id) in self._served

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        chat = getattr(event, "chat", None)
        if not isinstance(chat, Chat) or await self.serves(chat.id):
            return await handler(event, data)
        if isinstance(event, Message) and (event.text or "").startswith("/") and self._may_refuse(chat.id):
            log.warning("refused a command from chat %s, which is not served", chat.id)
            await event.reply(
                f"This chat (id <code>{chat.id}</code>) is not served by this bridge. "
                "Ask its operator to add the id to TELEGRAM_ALLOWED_CHAT_IDS."
            )
        return None

    def _may_refuse(self, chat_id: int) -> bool:
        """Whether to answer this chat (once per interval); what outsiders leave behind stays bounded."""
        now = self._clock()
        if now - self._refused_at.get(chat_id, -REFUSAL_INTERVAL) < REFUSAL_INTERVAL:
            return False
        if len(self._refused_at) >= MAX_REFUSED_CHATS:
            self._refused_at = {chat: at for chat, at in self._refused_at.items() if now - at < REFUSAL_INTERVAL}
            if len(self._refused_at) >= MAX_REFUSED_CHATS:
                return False
        self._refused_at[chat_id] = now
        return True
