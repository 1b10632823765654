"""Bybit's two chat APIs (order-scoped and session-based) as page readers, and the switch between them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from typing import Literal, Protocol, TypeVar

from bridge.bybit._client import MESSAGE_PAGE_SIZE, BybitClient
from bridge.bybit.models import ChatMessage, SessionMessage
from bridge.errors import BybitError

log = logging.getLogger(__name__)

ApiName = Literal["order", "session"]
KnownIds = Callable[[Sequence[str]], Awaitable[set[str]]]
"""Given message ids, answers which of them the store already holds."""

MAX_PAGES = 100  # a safety stop: 3,000 unseen messages in one poll means something is wrong


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


M = TypeVar("M", bound=_Identified)


class ChatSource:
    """Reads chat pages newest first through the chat API in use, and switches when Bybit retires one.

    Order-scoped (``order/message/listpage``, one chat per order, paged by page number) until Bybit
    answers 912200387, then session-based (``chat/message/listpage_v1``, one chat per counterparty,
    paged by ``lastId``). ``mode`` "auto" switches by itself and reports it through ``on_switch`` so
    it is remembered across restarts; "order" or "session" forces one API.
    """

    def __init__(
        self,
        client: BybitClient,
        *,
        mode: Literal["auto", "order", "session"],
        current: ApiName,
        on_switch: Callable[[ApiName], Awaitable[None]],
    ) -> None:
        self._client = client
        self._mode = mode
        self._current: ApiName = current if mode == "auto" else mode
        self._on_switch = on_switch
        self._sessions: dict[str, str] = {}

    @property
    def current(self) -> ApiName:
        """The chat API in use."""
        return self._current

    async def order_chat_retired(self) -> bool:
        """Bybit answered 912200387: switch to session chat if allowed; True if the switch happened."""
        if self._mode != "auto" or self._current == "session":
            return False
        log.warning("bybit retired the order-scoped chat API (912200387): switching to session chat")
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
        session = self._sessions.get(user_mask_id)
        if session is None:
            session = self._sessions[user_mask_id] = await self._client.session_id(user_mask_id)
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


async def collect_new(pages: AsyncIterator[list[M]], known: KnownIds, at_most: int | None = None) -> list[M]:
    """Read newest-first pages until a known message (or ``at_most`` new ones); return the new, newest first."""
    found: list[M] = []
    try:
        async for page in pages:
            held = await known([message.id for message in page])
            for message in page:
                if message.id in held or (at_most is not None and len(found) >= at_most):
                    return found
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
