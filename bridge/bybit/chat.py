"""Bybit's two chat APIs (order-scoped and session-based) as page readers, and the switch between them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Literal, Protocol, TypeVar

from bridge.bybit._client import MESSAGE_PAGE_SIZE, BybitClient
from bridge.bybit.constants import ContentType
from bridge.bybit.models import ChatMessage, OrderInfo, SessionMessage
from bridge.errors import BybitError, ChatApiRetired

log = logging.getLogger(__name__)

ApiName = Literal["order", "session"]
KnownIds = Callable[[Sequence[str]], Awaitable[set[str]]]
"""Given message ids, answers which of them the store already holds."""

MAX_PAGES = 100  # a safety stop: 3,000 unseen messages in one poll means something is wrong
SENT_CLOCK_SLACK = timedelta(minutes=2)  # Bybit's clock against ours when looking for a message we sent


class _Identified(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def create_date(self) -> datetime: ...


M = TypeVar("M", bound=_Identified)


class ChatSource:
    """Reads chat pages newest first through the chat API in use, and switches when Bybit retires one.

    Order-scoped (``order/message/listpage``, one chat per order, paged by page number) until Bybit
    answers 912200387, then session-based (``chat/message/listpage_v1``, one chat per counterparty,
    paged by ``lastId``). ``mode`` "auto" switches by itself and reports it through ``on_switch`` so
    it is remembered across restarts; "order" or "session" forces one API. Session ids (one per
    counterparty) start from ``sessions`` and each new one is reported through ``on_session``, so a
    restart does not ask Bybit for every one again.
    """

    def __init__(
        self,
        client: BybitClient,
        *,
        mode: Literal["auto", "order", "session"],
        current: ApiName,
        on_switch: Callable[[ApiName], Awaitable[None]],
        sessions: Mapping[str, str] | None = None,
        on_session: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        self._client = client
        self._mode = mode
        self._current: ApiName = current if mode == "auto" else mode
        self._on_switch = on_switch
        self._sessions: dict[str, str] = dict(sessions or {})
        self._on_session = on_session

    @property
    def current(self) -> ApiName:
        """The chat API in use."""
        return self._current

    async def order_chat_retired(self, exc: ChatApiRetired) -> bool:
        """Bybit retired the order-scoped chat: switch to session chat if allowed; True if the switch happened."""
        if self._mode != "auto" or self._current == "session":
            return False
        log.warning("bybit retired the order-scoped chat API (%s): switching to session chat", exc)
        self._current = "session"
        await self._on_switch("session")
        return True

    async def order_pages(self, order_id: str) -> AsyncIterator[list[ChatMessage]]:
        """Pages of one order's chat, newest first, until its history ends."""
        for number in range(1, MAX_PAGES + 1):
            page = await self._client.order_messages(order_id, number)
            if page:
                yield page
            if len(page) < MESSAGE_PAGE_SIZE:
                return

    async def session_pages(self, user_mask_id: str) -> AsyncIterator[list[SessionMessage]]:
        """Pages of the chat with one counterparty (by its mask id), newest first, until history ends."""
        session = await self._session(user_mask_id)
        last_id = 0
        for _ in range(MAX_PAGES):
            try:
                page = await self._client.session_messages(session, last_id)
            except BybitError:
                self._sessions.pop(user_mask_id, None)  # the next read asks for the session anew
                raise
            if page:
                yield page
            older = [int(item.id) for item in page if item.id.isdigit()]
            if len(page) < MESSAGE_PAGE_SIZE or not older:
                return
            last_id = min(older)

    async def send(
        self, order: OrderInfo, text: str, msg_uuid: str, content_type: ContentType = ContentType.TEXT
    ) -> None:
        """Send a text (or an uploaded file's path) into the order's chat through the API in use.

        Switches to the session chat if Bybit retired the order-scoped one.

        The order-scoped API keeps one message per ``msg_uuid``, so repeating is safe; the session API
        has no such key, so a caller that is unsure whether a send arrived asks :meth:`find_sent` first.
        """
        if self._current == "order":
            try:
                await self._client.send_order_message(order.id, text, msg_uuid, content_type)
                return
            except ChatApiRetired as exc:
                if not await self.order_chat_retired(exc):
                    raise
        session = await self._session(order.target_user_mask_id)
        await self._client.send_session_message(session, order.id, text, content_type)

    async def find_sent(self, order: OrderInfo, key: str, since: datetime) -> list[str]:
        """The ids of your own messages with this text (or file path, its signed query aside), written since
        ``since``, in the order's session chat, oldest first."""
        found: list[str] = []
        pages = self.session_pages(order.target_user_mask_id)
        try:
            async for page in pages:
                for item in page:
                    mine = item.send_user_nick_name == order.nick_name and item.content.split("?", 1)[0] == key
                    if mine and item.create_date >= since - SENT_CLOCK_SLACK:
                        found.append(item.id)
                if page[-1].create_date < since - SENT_CLOCK_SLACK:
                    break
        finally:
            await pages.aclose()  # type: ignore[attr-defined]
        return found[::-1]

    def knows(self, user_mask_id: str) -> bool:
        """Whether the session with this counterparty is known (no ``getSessionId`` read needed)."""
        return user_mask_id in self._sessions

    async def adopt(self, user_mask_id: str, session_id: str) -> None:
        """Take a session id another read gave (the session list) for a counterparty that has none yet.

        Never one already held by another counterparty: a session belongs to one.
        """
        if user_mask_id and user_mask_id not in self._sessions and session_id not in self._sessions.values():
            self._sessions[user_mask_id] = session_id
            if self._on_session is not None:
                await self._on_session(user_mask_id, session_id)

    async def _session(self, user_mask_id: str) -> str:
        session = self._sessions.get(user_mask_id)
        if session is None:
            session = self._sessions[user_mask_id] = await self._client.session_id(user_mask_id)
            if self._on_session is not None:
                await self._on_session(user_mask_id, session)
        return session


async def collect_new(
    pages: AsyncIterator[list[M]], known: KnownIds, at_most: int | None = None, *, back_to: datetime | None = None
) -> list[M]:
    """Read newest-first pages until a known message (or ``at_most`` new ones); return the new, newest first.

    With ``back_to``, known messages written after it are passed over: the read goes on to the first known one
    written at or before it (a chat whose orders were last read at different times is read back to the oldest).
    """
    found: list[M] = []
    try:
        async for page in pages:
            held = await known([message.id for message in page])
            for message in page:
                if at_most is not None and len(found) >= at_most:
                    return found
                if message.id in held:
                    if back_to is None or message.create_date <= back_to:
                        return found
                    continue
                found.append(message)
    finally:
        await pages.aclose()  # type: ignore[attr-defined]
    return found


async def find(pages: AsyncIterator[list[M]], ids: Collection[str]) -> dict[str, M]:
    """Fresh copies of the given messages (Bybit signs media links anew on every list call)."""
    found: dict[str, M] = {}
    try:
        async for page in pages:
            found.update((message.id, message) for message in page if message.id in ids)
            if len(found) == len(ids):
                break
    finally:
        await pages.aclose()  # type: ignore[attr-defined]
    return found
