"""Telling teammates what became of their replies: a reaction when Bybit took one, a reply when it did not."""

from __future__ import annotations

import asyncio
import html
import logging

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import ReactionTypeCustomEmoji, ReactionTypeEmoji, ReactionTypePaid, ReplyParameters

from bridge.errors import ChatUnavailable, TelegramAnswerLost
from bridge.store import Outgoing, OutState, Store
from bridge.tasks import wait_event
from bridge.telegram.outgoing.calls import TelegramCaller
from bridge.telegram.outgoing.retries import Retries

log = logging.getLogger(__name__)

SENT_REACTION = "👍"  # one of the emoji Telegram allows as a reaction
IDLE_RECHECK = 30.0
REACTION_RETRY_BASE = 1.0  # seconds before setting a reaction again whose answer was lost, doubled per loss
REACTION_RETRY_CAP = 300.0


class Feedback:
    """Gives every settled reply its feedback once."""

    def __init__(self, bot: Bot, store: Store, call: TelegramCaller) -> None:
        self._bot = bot
        self._store = store
        self._call = call
        self._lost: Retries[int] = Retries(REACTION_RETRY_BASE, REACTION_RETRY_CAP)

    async def run(self) -> None:
        """Give whatever feedback is owed, whenever more is, forever."""
        while True:
            self._store.wakeups.feedback.clear()
            for item in await self._store.outbox.feedback_owed():
                if self._lost.due(item.id):
                    await self._give(item)
            await wait_event(self._store.wakeups.feedback, IDLE_RECHECK)

    async def _give(self, item: Outgoing) -> None:
        chat_id = item.chat_id
        try:
            if item.state is OutState.SENT:
                reaction: list[ReactionTypeEmoji | ReactionTypeCustomEmoji | ReactionTypePaid] = [
                    ReactionTypeEmoji(emoji=SENT_REACTION)
                ]
                await self._call(chat_id, lambda: self._bot.set_message_reaction(chat_id, item.tg_message_id, reaction))
            else:
                text = f"⚠️ <b>Not sent</b> to the buyer's Bybit chat: {html.escape(item.last_error)}."
                reply = ReplyParameters(message_id=item.tg_message_id, allow_sending_without_reply=True)
                await self._call(chat_id, lambda: self._bot.send_message(chat_id, text, reply_parameters=reply))
        except (TelegramBadRequest, ChatUnavailable, TelegramAnswerLost) as exc:  # feedback is a courtesy: once
            if isinstance(exc, TelegramAnswerLost) and item.state is OutState.SENT:  # setting it again is harmless
                _, delay = self._lost.failed(item.id)
                asyncio.get_running_loop().call_later(delay, self._store.wakeups.feedback.set)
                return
            log.warning("chat %s: could not tell the sender of reply %d its outcome (%s)", chat_id, item.id, exc)
        self._lost.succeeded(item.id)
        await self._store.outbox.feedback_given(item.id)
