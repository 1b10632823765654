"""What the poller reads and records: chats (an order, or a counterparty with all its orders) and new messages."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TypeVar

from bridge.bybit import ApiName, ChatItem, ChatMessage, MessageKind, OrderStatus
from bridge.store import State, Watch

Item = TypeVar("Item", bound=ChatItem)


@dataclass(frozen=True)
class Chat:
    """One chat the poller reads: its watched orders, and names for the logs and for hints."""

    name: str
    watches: tuple[Watch, ...]
    nick: str  # the counterparty's nickname: Bybit's session list names sessions by it


def chats_of(watches: Sequence[Watch], api: ApiName) -> dict[str, Chat]:
    """The chats to read on ``api``, by key: an order each, or a counterparty each with all its orders."""
    if api == "order":
        return {f"order {w.order_id}": Chat(f"order {w.order_id}", (w,), w.info.target_nick_name) for w in watches}
    groups: defaultdict[str, list[Watch]] = defaultdict(list)
    for watch in watches:
        groups[watch.info.target_user_mask_id or watch.info.target_user_id or watch.order_id].append(watch)
    return {
        f"counterparty {key}": Chat(
            f"counterparty {group[0].info.target_nick_name or group[0].order_id}",
            tuple(group),
            group[0].info.target_nick_name,
        )
        for key, group in groups.items()
    }


FINISHED_FAST = 60.0  # seconds after an order finished during which its chat is read at the floor…
FINISHED_EVERY = 30.0  # …then at least this often, until it is retired (a buyer may still write: "I already paid!")


def finished_cap(chat: Chat, now: float, floor: float) -> float | None:
    """How often at least a chat with a finished order is read (None: it has none, the usual schedule holds)."""
    ended = [w.finished_at for w in chat.watches if w.finished_at is not None]
    if not ended:
        return None
    return floor if now - max(ended) < FINISHED_FAST else max(floor, FINISHED_EVERY)


LIVELY_STAGES = frozenset(
    {OrderStatus.WAITING_FOR_RELEASE, OrderStatus.APPEALING, OrderStatus.OBJECTING, OrderStatus.WAITING_FOR_OBJECTION}
)  # paid, or under appeal: the buyer sends the receipt, asks, argues
LIVELY_STAGE_RATE = 1 / 120  # messages a second such an order's chat is expected to have, talk or not


def stage_rate(chat: Chat) -> float:
    """Messages a second a chat's order stages let expect (0: nothing but its own talk tells)."""
    return LIVELY_STAGE_RATE if any(w.info.status in LIVELY_STAGES for w in chat.watches) else 0.0


def oldest_first(messages: Sequence[Item]) -> list[Item]:
    """Messages in the order they were written (ids break ties)."""
    return sorted(messages, key=lambda m: (m.create_date, len(m.id), m.id))


def read_cap(backfill_limit: int | None) -> int | None:
    """How many new messages a read may take: on a backfill one past the window, marked seen as a stop."""
    return None if backfill_limit is None else backfill_limit + 1


def plan_records(
    owned: Sequence[tuple[str, ChatMessage]], backfill_limit: int | None, echoes: Collection[str] = ()
) -> list[tuple[str, ChatMessage, State]]:
    """Delivery states for new messages (oldest first, with the order each goes to).

    On a backfill read only the newest ``backfill_limit`` are forwarded; older ones (and Bybit's
    machine-readable order cards) are only marked seen, so the next read stops at them. ``echoes``
    are the bridge's own replies coming back: recorded, not forwarded again.
    """
    cut = max(len(owned) - backfill_limit, 0) if backfill_limit is not None else 0
    return [(order_id, message, _state(message, n < cut, echoes)) for n, (order_id, message) in enumerate(owned)]


def _state(message: ChatMessage, before_window: bool, echoes: Collection[str]) -> State:
    if message.id in echoes:
        return State.ECHO
    if before_window or message.kind is MessageKind.ORDER_CARD:
        return State.SKIPPED
    return State.PENDING


def quiet_for(watches: Sequence[Watch], found: Sequence[ChatMessage], now: float) -> float:
    """Seconds since the newest thing in a chat read for the first time: its newest message, or its newest order's
    creation (``math.inf``: neither is known)."""
    moments = [message.created_ms / 1000 for message in found]
    moments += [w.info.create_date.timestamp() for w in watches if w.info.create_date is not None]
    return max(0.0, now - max(moments)) if moments else math.inf
