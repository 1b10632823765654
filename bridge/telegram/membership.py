"""Router for the bot's own membership: removed from a chat → hold its posts; back → resume at once."""

from __future__ import annotations

import logging
import time

from aiogram import Router
from aiogram.enums import ChatMemberStatus
from aiogram.types import ChatMemberUpdated

from bridge.store import Store

log = logging.getLogger(__name__)

GONE = frozenset({ChatMemberStatus.LEFT, ChatMemberStatus.KICKED})
REMOVED_RETRY = 3600.0  # seconds; a missed "added back" update still resumes within the hour


async def membership_changed(update: ChatMemberUpdated, store: Store) -> None:
    """Pause a chat the bot was removed from; resume it when the bot is added back."""
    chat_id = update.chat.id
    if update.new_chat_member.status in GONE:
        await store.pause_chat(chat_id, time.time() + REMOVED_RETRY, "the bot was removed from the chat")
        log.error("chat %s: the bot was removed; its messages stay pending until it is added back", chat_id)
    elif await store.resume_chat(chat_id):
        log.info("chat %s: the bot is back; delivering what was held", chat_id)


def create_router() -> Router:
    """A fresh router (routers attach to one dispatcher only)."""
    router = Router(name="membership")
    router.my_chat_member.register(membership_changed)
    return router
