"""Router for answering buyers from Telegram: a reply to one of the bridge's posts, or /send."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiogram import F
from aiogram.filters import CommandObject
from aiogram.types import Message

from bridge.core.watchlist import ORDER_ID
from bridge.store import NewReply, Store
from bridge.telegram.incoming.commands import Commands

log = logging.getLogger(__name__)

MAX_REPLY_CHARS = 1000  # Bybit's session chat takes at most this many characters
commands = Commands("replies")


@dataclass(frozen=True)
class ReplyPolicy:
    """Who may send to Bybit from Telegram: anyone in a served chat, or only ``allowed`` user ids."""

    enabled: bool
    allowed: frozenset[int]

    def refusal(self, user_id: int | None, text: str) -> str:
        """Why this reply will not be sent ("" when it may be)."""
        if not self.enabled:
            return "sending to Bybit is turned off here (REPLIES_ENABLED=false)"
        if self.allowed and user_id not in self.allowed:
            return "you may not send to Bybit from here (TELEGRAM_REPLY_USER_IDS)"
        if len(text) > MAX_REPLY_CHARS:
            return f"it is longer than Bybit's {MAX_REPLY_CHARS} characters"
        return ""


async def reply(message: Message, store: Store, replies: ReplyPolicy) -> None:
    """A teammate's reply to a forwarded message or an order card goes to that order's Bybit chat.

    In a forum every message of a topic replies to the topic's creation message: that is team talk.
    """
    target = message.reply_to_message
    if target is None or target.forum_topic_created is not None or target.message_id == message.message_thread_id:
        return
    order_id = await store.orders.of_post(message.chat.id, target.message_id)
    if order_id is not None:
        await _queue(message, store, replies, order_id, message.text or "")


@commands.command("send", "[ORDER_ID] TEXT", "send TEXT to the buyer's Bybit chat (in an order's topic: that order)")
async def send(message: Message, command: CommandObject, store: Store, replies: ReplyPolicy) -> None:
    """/send ORDER_ID TEXT, or /send TEXT inside an order's topic."""
    first, _, rest = (command.args or "").strip().partition(" ")
    order_id: str | None = None
    text = ""
    if ORDER_ID.match(first):
        watch = await store.orders.get(first)
        order_id = first if watch and watch.active and watch.chat_id == message.chat.id else None
        text = rest.strip()
    elif message.is_topic_message and message.message_thread_id is not None:
        order_id = await store.orders.in_thread(message.chat.id, message.message_thread_id)
        text = (command.args or "").strip()
    if order_id is None or not text:
        await message.reply(
            f"Usage: <code>{commands['send'].usage}</code>: an order watched here, and the text; see /list."
        )
        return
    await _queue(message, store, replies, order_id, text)


async def _queue(message: Message, store: Store, replies: ReplyPolicy, order_id: str, text: str) -> None:
    """Write the reply to the outbox (once per Telegram message), or record why it will not be sent."""
    user = message.from_user
    user_id, name = (user.id, user.full_name) if user else (None, "")
    reason = replies.refusal(user_id, text)
    new = NewReply(message.chat.id, message.message_id, order_id, user_id, name, text)
    if await store.outbox.add(new, reason) and not reason:
        log.info("order %s: %s (user %s) replied from Telegram; queued for Bybit", order_id, name, user_id)


TEAM_REPLY = (reply, F.reply_to_message & F.text & ~F.text.startswith("/"))
"""Registered after the commands: a plain text reply."""
