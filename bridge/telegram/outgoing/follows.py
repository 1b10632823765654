"""Files that follow: a file not fetched at once has its place kept by a post, and is posted as a reply to it."""

from __future__ import annotations

import functools
import logging
import sqlite3
import time

from aiogram.exceptions import TelegramBadRequest, TelegramEntityTooLarge, TelegramMigrateToChat

from bridge.errors import ChatUnavailable, MediaUnavailable, TelegramAnswerLost, describe
from bridge.store import FileToFollow, Store
from bridge.telegram.outgoing.calls import TelegramCaller
from bridge.telegram.outgoing.pacing import BULK
from bridge.telegram.outgoing.refusals import Refusal, refusal
from bridge.telegram.outgoing.render import MediaPart, media_as_link, render
from bridge.telegram.outgoing.sender import TelegramSender
from bridge.telegram.outgoing.unsaved import Unsaved

log = logging.getLogger(__name__)

MEDIA_OUTAGE_PATIENCE = 15 * 60.0  # seconds a file is tried again before its placeholder says it stays a link
MEDIA_RETRY_BASE = 5.0  # seconds before the first try after the placeholder, doubled per try
MEDIA_RETRY_CAP = 120.0

_LATER = (ChatUnavailable, TelegramAnswerLost, TelegramMigrateToChat)
"""Trouble with the chat or with Telegram's answer, not with the file: tried again later."""


class FileFollower:
    """Brings the files whose place a placeholder keeps: fetched again ever later, posted as a reply to it.

    A file that cannot be had within ``MEDIA_OUTAGE_PATIENCE`` (or that Telegram refuses) is given up: its
    placeholder, which carries the link, is edited to say why it stays a link.
    """

    def __init__(self, store: Store, sender: TelegramSender, call: TelegramCaller, *, media_host: str) -> None:
        self._store = store
        self._sender = sender
        self._call = call
        self._media_host = media_host
        self._unsaved = Unsaved()  # by message seq: a file posted whose record the store refused
        self._store_failing = False

    async def run(self) -> None:
        """Try each file that is due once."""
        BULK.set(True)  # these posts give way to command replies
        try:
            for seq in self._unsaved.lanes():
                await self._unsaved.flush(seq)
            for item in await self._store.follows.due(MEDIA_OUTAGE_PATIENCE):
                await self._bring(item)
        except sqlite3.Error as exc:  # tried again at the next round; a file posted is not posted again
            if not self._store_failing:
                log.error("files that follow: the store refused a write (%s); trying again", exc)
            self._store_failing = True
            return
        if self._store_failing:
            log.info("files that follow: the store takes writes again")
        self._store_failing = False

    async def _bring(self, item: FileToFollow) -> None:
        """Fetch and post one file as a reply to its placeholder; else try later, or give up."""
        [part] = render(item.message, item.watch.info, self._media_host)
        if not isinstance(part, MediaPart):  # nothing to fetch (cannot happen: only media follow)
            await self._store.follows.done(item.seq, item.chat_id, None)
            return
        chat_id, thread_id = item.chat_id, item.watch.thread_id
        try:
            sent = await self._call(chat_id, lambda: self._sender.send(chat_id, thread_id, part, item.placeholder))
        except MediaUnavailable as exc:
            if exc.expired and not item.link_refreshed and not self._out_of_time(item):
                log.info(
                    "order %s: the link of a file that follows expired; asking Bybit for a fresh one", _order(item)
                )
                await self._store.follows.retry(item.seq, 0.0, exc.reason, refresh=True)
            elif exc.transient:
                await self._later(item, part, exc.reason)
            else:
                await self._stays_a_link(item, part, exc.reason)
        except TelegramEntityTooLarge:
            await self._stays_a_link(item, part, "the file is too large for Telegram")
        except TelegramBadRequest as exc:
            if refusal(exc) in {Refusal.OTHER, Refusal.ENTITIES}:
                await self._stays_a_link(item, part, f"Telegram refused the file: {exc.message}")
            else:  # the chat or the topic: its worker heals that
                await self._later(item, part, exc.message)
        except _LATER as exc:
            await self._later(item, part, str(exc))
        except sqlite3.Error:
            raise
        except Exception as exc:  # unforeseen: this file only
            log.exception("order %s: a file that follows failed unexpectedly", _order(item))
            await self._stays_a_link(item, part, describe(exc))
        else:
            await self._unsaved.record(item.seq, functools.partial(self._store.follows.done, item.seq, chat_id, sent))
            log.info("order %s: the file of message %s followed its placeholder", _order(item), item.message.id)

    @staticmethod
    def _out_of_time(item: FileToFollow) -> bool:
        return time.time() - item.since >= MEDIA_OUTAGE_PATIENCE

    async def _later(self, item: FileToFollow, part: MediaPart, reason: str) -> None:
        """Try again ever later; past the patience, give up."""
        if self._out_of_time(item):
            await self._stays_a_link(item, part, f"{reason}, for {MEDIA_OUTAGE_PATIENCE / 60:.0f} minutes")
            return
        delay = min(MEDIA_RETRY_CAP, MEDIA_RETRY_BASE * 2 ** (item.attempts + 1))
        await self._store.follows.retry(item.seq, time.time() + delay, reason)

    async def _stays_a_link(self, item: FileToFollow, part: MediaPart, reason: str) -> None:
        """Say on the placeholder why it stays a link; then the file is settled."""
        chat_id, text = item.chat_id, media_as_link(part, f"the file stays a link: {reason}")
        try:
            await self._call(chat_id, lambda: self._sender.edit(chat_id, item.placeholder, text))
        except TelegramBadRequest as exc:  # the placeholder is gone (or says so already): nothing more to say
            log.info("order %s: the placeholder of a file could not be edited (%s)", _order(item), exc.message)
        except _LATER as exc:
            await self._store.follows.retry(item.seq, time.time() + MEDIA_RETRY_CAP, str(exc))
            return
        log.warning("order %s: the file of message %s stays a link: %s", _order(item), item.message.id, reason)
        await self._store.follows.done(item.seq, chat_id, None)


def _order(item: FileToFollow) -> str:
    return item.watch.order_id
