"""Router for the bot's own membership: removed from a chat → hold its posts; back → resume at once."""

from __future__ import annotations

import logging
import time

from aiogram import Router
from aiogram.enums import ChatMemberStatus
from aiogram.types import ChatMemberRestricted, ChatMemberUpdated

from bridge.store import Store

log = logging.getLogger(__name__)

GONE = frozenset({ChatMemberStatus.LEFT, ChatMemberStatus.KICKED})
REMOVED_RETRY = 3600.0  # seconds; a missed "added back" update still resumes within the hour


async def membership_changed(update: ChatMemberUpdated, store: Store) -> None:
    """Hold a chat the bot was removed from or may not post in; resume it when that ends."""
    chat_id = update.chat.id
    member = update.new_chat_member
    if member.status in GONE:
        reason = "the bot was removed from the chat"
    elif isinstance(member, ChatMemberRestricted) and not member.can_send_messages:
        reason = "the bot may not send messages in the chat"
    else:
        if await store.chats.resume(chat_id):
            log.info("chat %s: the bot may post again; delivering what was held", chat_id)
        return
    await store.chats.pause(chat_id, time.time() + REMOVED_RETRY, reason)
    log.error("chat %s: %s; its messages are held until that changes", chat_id, reason)


def create_router() -> Router:
    """A fresh router (routers attach to one dispatcher only)."""
    router = Router(name="membership")
    router.my_chat_member.register(membership_changed)
    return router
