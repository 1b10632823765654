"""Each watched order's home in Telegram: a forum topic where the chat allows it, and its order card."""

from __future__ import annotations

import functools
import logging

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest

from bridge.store import Store, Watch
from bridge.telegram.outgoing.calls import TelegramCaller
from bridge.telegram.outgoing.refusals import Refusal, refusal
from bridge.telegram.outgoing.render import order_card, topic_name
from bridge.telegram.outgoing.unsaved import Unsaved

log = logging.getLogger(__name__)

TOPIC_ALREADY_OPEN = "TOPIC_NOT_MODIFIED"  # reopenForumTopic on an open topic
CARD_UNCHANGED = "message is not modified"


class Homes:
    """Builds homes: in a forum supergroup one topic per order, else one stream threaded to the card."""

    def __init__(self, bot: Bot, store: Store, call: TelegramCaller) -> None:
        self._bot = bot
        self._store = store
        self._call = call
        self._forum: dict[int, bool] = {}

    async def ensure(self, watch: Watch, unsaved: Unsaved) -> None:
        """Create the order's topic (if possible, and not made already), post and pin its card, and record both.

        A card Telegram refuses for good is left out; refusals that concern the chat or the topic
        pass through to the caller. The records go through ``unsaved``: one the store refuses is made
        again later, never by making the topic or card again.
        """
        chat_id = watch.chat_id
        thread_id = watch.made_topic
        if thread_id is None and await self._is_forum(chat_id):
            thread_id = await self._create_topic(watch)
            if thread_id is not None:  # kept at once: if the card fails now, the next try uses this topic
                made = functools.partial(self._store.orders.topic_made, watch.order_id, thread_id)
                await unsaved.record(chat_id, made)
        try:
            card: int | None = (
                await self._call(
                    chat_id,
                    lambda: self._bot.send_message(chat_id, order_card(watch.info), message_thread_id=thread_id),
                )
            ).message_id
        except TelegramBadRequest as exc:
            if refusal(exc) is not Refusal.OTHER:
                raise
            log.error("order %s: Telegram refused its card (%s); its messages follow without one", watch.order_id, exc)
            card = None
        await unsaved.record(chat_id, functools.partial(self._store.orders.set_home, watch.order_id, thread_id, card))
        if thread_id is not None and card is not None:
            await self._pin(chat_id, card, watch.order_id)
        log.info("order %s: home ready in chat %s (topic %s)", watch.order_id, chat_id, thread_id)

    async def reopen(self, watch: Watch) -> bool:
        """Reopen the order's topic that someone closed; False without the right to."""
        chat_id, thread_id = watch.chat_id, watch.thread_id
        if thread_id is None:
            return False
        try:
            await self._call(chat_id, lambda: self._bot.reopen_forum_topic(chat_id, thread_id))
        except TelegramBadRequest as exc:
            if TOPIC_ALREADY_OPEN in exc.message:
                return True
            log.warning("order %s: its topic is closed and cannot be reopened (%s)", watch.order_id, exc.message)
            return False
        log.info("order %s: reopened its closed topic", watch.order_id)
        return True

    async def edit_card(self, watch: Watch) -> None:
        """Show the order's latest detail (its status) on its card."""
        chat_id, card = watch.chat_id, watch.card_message_id
        if card is not None:
            try:
                await self._call(
                    chat_id,
                    lambda: self._bot.edit_message_text(order_card(watch.info), chat_id=chat_id, message_id=card),
                )
            except TelegramBadRequest as exc:  # unchanged, or deleted: the card is a courtesy
                if CARD_UNCHANGED not in exc.message:
                    log.warning("order %s: its card could not be edited (%s)", watch.order_id, exc.message)
        await self._store.orders.card_edited(watch)

    async def close(self, watch: Watch) -> None:
        """Close the topic of an order no longer watched."""
        chat_id, thread_id = watch.chat_id, watch.thread_id
        if thread_id is not None:
            try:
                await self._call(chat_id, lambda: self._bot.close_forum_topic(chat_id, thread_id))
                log.info("order %s: finished; its topic is closed", watch.order_id)
            except TelegramBadRequest as exc:  # closed already, deleted, or no right to: nothing lost
                log.info("order %s: its topic stays as it is (%s)", watch.order_id, exc.message)
        await self._store.orders.topic_closed(watch.order_id)

    async def _is_forum(self, chat_id: int) -> bool:
        if chat_id not in self._forum:
            chat = await self._call(chat_id, lambda: self._bot.get_chat(chat_id))
            self._forum[chat_id] = bool(chat.is_forum)
        return self._forum[chat_id]

    async def _create_topic(self, watch: Watch) -> int | None:
        chat_id = watch.chat_id
        try:
            topic = await self._call(chat_id, lambda: self._bot.create_forum_topic(chat_id, topic_name(watch.info)))
        except TelegramBadRequest as exc:
            # No right to manage topics (or not a forum after all): one stream, replies threaded to the card.
            log.warning("chat %s: cannot create forum topics (%s); posting in one stream", chat_id, exc.message)
            self._forum[chat_id] = False
            return None
        return topic.message_thread_id

    async def _pin(self, chat_id: int, message_id: int, order_id: str) -> None:
        try:
            await self._call(
                chat_id,
                lambda: self._bot.pin_chat_message(chat_id, message_id, disable_notification=True),
            )
        except TelegramBadRequest as exc:  # no right to pin: fine, the card is still first in the topic
            log.info("order %s: card not pinned (%s)", order_id, exc.message)
