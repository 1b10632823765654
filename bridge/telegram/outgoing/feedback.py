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
            for parts in await self._store.outbox.feedback_owed():
                if self._lost.due(parts[0].id):
                    await self._give(parts)
            await wait_event(self._store.wakeups.feedback, IDLE_RECHECK)

    async def _give(self, parts: tuple[Outgoing, ...]) -> None:
        """A 👍 when every part of the reply went; else why not (and what went, when a caption did not)."""
        first = parts[0]
        chat_id = first.chat_id
        unsent = [part for part in parts if part.state is not OutState.SENT]
        try:
            if not unsent:
                reaction: list[ReactionTypeEmoji | ReactionTypeCustomEmoji | ReactionTypePaid] = [
                    ReactionTypeEmoji(emoji=SENT_REACTION)
                ]
                await self._call(
                    chat_id, lambda: self._bot.set_message_reaction(chat_id, first.tg_message_id, reaction)
                )
            else:
                reason = html.escape(unsent[0].last_error)
                text = (
                    f"⚠️ <b>Not sent</b> to the buyer's Bybit chat: {reason}."
                    if unsent[0] is first
                    else f"⚠️ The file went to the buyer's Bybit chat, but its caption was <b>not sent</b>: {reason}."
                )
                reply = ReplyParameters(message_id=first.tg_message_id, allow_sending_without_reply=True)
                await self._call(chat_id, lambda: self._bot.send_message(chat_id, text, reply_parameters=reply))
        except (TelegramBadRequest, ChatUnavailable, TelegramAnswerLost) as exc:  # feedback is a courtesy: once
            if isinstance(exc, TelegramAnswerLost) and not unsent:  # setting the reaction again is harmless
                _, delay = self._lost.failed(first.id)
                asyncio.get_running_loop().call_later(delay, self._store.wakeups.feedback.set)
                return
            log.warning("chat %s: could not tell the sender of reply %d its outcome (%s)", chat_id, first.id, exc)
        self._lost.succeeded(first.id)
        await self._store.outbox.feedback_given(first)
