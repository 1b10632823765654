"""The two chat back ends (order-scoped and session-based) behind one interface, and the switch."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from bridge.bybit._client import MESSAGE_PAGE_SIZE, BybitClient
from bridge.bybit.models import ChatMessage, OrderInfo, SessionMessage
from bridge.errors import ChatApiRetired

log = logging.getLogger(__name__)

ApiName = Literal["order", "session"]
KnownIds = Callable[[Sequence[str]], Awaitable[set[str]]]
"""Given message ids, answers which of them the store already holds."""

MAX_PAGES = 100  # a safety stop: 3,000 unseen messages in one poll means something is wrong
SYSTEM_NICKNAME = "SYSTEM"
SESSION_CLOCK_SLACK = timedelta(minutes=1)  # a message may be stamped a little before its order


class ChatBackend(Protocol):
    """Pages through one order's chat, newest first."""

    name: ApiName

    def pages(self, order: OrderInfo, related: Sequence[OrderInfo]) -> AsyncIterator[list[ChatMessage]]:
        """Yield pages of the order's chat, newest first, until history ends.

        ``related`` are other orders known to have the same counterparty.
        """
        ...


class OrderScopedChat:
    """``/v5/p2p/order/message/listpage``: the seed's per-order chat, paged by page number."""

    name: ApiName = "order"

    def __init__(self, client: BybitClient) -> None:
        self._client = client

    async def pages(self, order: OrderInfo, related: Sequence[OrderInfo]) -> AsyncIterator[list[ChatMessage]]:
        for number in range(1, MAX_PAGES + 1):
            page = await self._client.order_messages(order.id, number)
            if page:
                yield page
            if len(page) < MESSAGE_PAGE_SIZE:
                return


class SessionChat:
    """``/v5/p2p/chat/message/listpage_v1``: one session per counterparty, paged by ``lastId``.

    The session holds every order with that counterparty, so each message is attributed to the
    newest of the counterparty's orders (the related ones and the open ones Bybit lists) created
    before it; a message older than all of them gets no order.
    """

    name: ApiName = "session"

    def __init__(self, client: BybitClient) -> None:
        self._client = client
        self._sessions: dict[str, str] = {}

    async def pages(self, order: OrderInfo, related: Sequence[OrderInfo]) -> AsyncIterator[list[ChatMessage]]:
        session = self._sessions.get(order.target_user_mask_id)
        if session is None:
            session = await self._client.session_id(order.target_user_mask_id)
            self._sessions[order.target_user_mask_id] = session
        orders = {o.id: o.create_date for o in (*related, order)}
        for summary in await self._client.pending_orders():
            if summary.target_user_id == order.target_user_id:
                orders.setdefault(summary.id, summary.create_date)
        last_id: str | None = None
        for _ in range(MAX_PAGES):
            page = await self._client.session_messages(session, last_id)
            if page:
                yield [to_chat_message(item, order, attribute(item.create_date, orders)) for item in page]
                last_id = page[-1].id
            if len(page) < MESSAGE_PAGE_SIZE:
                return


def attribute(sent: datetime, orders: Mapping[str, datetime | None]) -> str:
    """The newest order created (give or take ``SESSION_CLOCK_SLACK``) before ``sent``; "" if none."""
    candidates = [
        (created or datetime.min.replace(tzinfo=UTC), order_id)
        for order_id, created in orders.items()
        if created is None or created <= sent + SESSION_CLOCK_SLACK
    ]
    return max(candidates)[1] if candidates else ""


def to_chat_message(item: SessionMessage, order: OrderInfo, owner: str) -> ChatMessage:
    """Map a session message of ``order``'s counterparty onto the order-scoped shape, as ``owner``'s.

    The sender is told apart by nickname: SYSTEM, yours, or the counterparty's.
    """
    nickname = item.send_user_nick_name
    user_id, role_type = "", "user"
    if nickname == SYSTEM_NICKNAME:
        role_type = "sys"
    elif nickname == order.nick_name:
        user_id = order.user_id
    elif nickname == order.target_nick_name:
        user_id = order.target_user_id
    return ChatMessage(
        id=item.id,
        message=item.content,
        user_id=user_id,
        msg_type=item.msg_type,
        msg_code=item.msg_code,
        create_date=item.create_date,
        content_type=item.content_type,
        order_id=owner,
        nick_name=nickname,
        file_name=item.file_name,
        role_type=role_type,
    )


async def collect_new(
    pages: AsyncIterator[list[ChatMessage]], known: KnownIds, at_most: int | None = None
) -> list[ChatMessage]:
    """Read newest-first pages until a known message (or ``at_most`` new ones); return them oldest first."""
    found: list[ChatMessage] = []
    try:
        async for page in pages:
            held = await known([message.id for message in page])
            for message in page:
                if message.id in held or (at_most is not None and len(found) >= at_most):
                    return _chronological(found)
                found.append(message)
    finally:
        await pages.aclose()  # type: ignore[attr-defined]
    return _chronological(found)


def _chronological(messages: list[ChatMessage]) -> list[ChatMessage]:
    return sorted(messages, key=lambda m: (m.create_date, len(m.id), m.id))


class ChatSource:
    """Chooses the back end: order-scoped until Bybit retires it (912200387), then session-based.

    ``mode`` "auto" switches by itself and reports the switch through ``on_switch`` so it is
    remembered across restarts; "order" or "session" forces one back end.
    """

    def __init__(
        self,
        client: BybitClient,
        *,
        mode: Literal["auto", "order", "session"],
        current: ApiName,
        on_switch: Callable[[ApiName], Awaitable[None]],
    ) -> None:
        self._backends: dict[ApiName, ChatBackend] = {
            "order": OrderScopedChat(client),
            "session": SessionChat(client),
        }
        self._mode = mode
        self._current: ApiName = current if mode == "auto" else mode
        self._on_switch = on_switch

    @property
    def current(self) -> ApiName:
        """The back end in use."""
        return self._current

    async def find(
        self, order: OrderInfo, ids: Collection[str], related: Sequence[OrderInfo] = ()
    ) -> dict[str, ChatMessage]:
        """Fresh copies of the given messages (Bybit signs media links anew on every list call)."""
        found: dict[str, ChatMessage] = {}
        pages = self._backends[self._current].pages(order, related)
        try:
            async for page in pages:
                found.update((message.id, message) for message in page if message.id in ids)
                if len(found) == len(ids):
                    break
        finally:
            await pages.aclose()  # type: ignore[attr-defined]
        return found

    async def fetch_new(
        self,
        order: OrderInfo,
        known: KnownIds,
        at_most: int | None = None,
        related: Sequence[OrderInfo] = (),
    ) -> list[ChatMessage]:
        """Messages of ``order``'s chat the store does not hold yet, oldest first."""
        try:
            return await collect_new(self._backends[self._current].pages(order, related), known, at_most)
        except ChatApiRetired:
            if self._mode != "auto" or self._current == "session":
                raise
        log.warning("bybit retired the order-scoped chat API (912200387): switching to session chat")
        self._current = "session"
        await self._on_switch("session")
        return await collect_new(self._backends["session"].pages(order, related), known, at_most)
