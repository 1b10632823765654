"""What ``/status`` tells: uptime, watches, last successes, errors by kind, queue depth."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bridge.bybit import BudgetStats
from bridge.core.stats import PollStats
from bridge.store import OutState, Store
from bridge.telegram.outgoing.calls import CallStats


@dataclass
class Health:
    """Live counters shared by the poller, the Telegram caller and /status."""

    poll: PollStats
    telegram: CallStats
    bybit: BudgetStats
    started_at: float = field(default_factory=time.time)


def ago(moment: float | None, now: float) -> str:
    """``12 s ago`` / ``never``."""
    if moment is None:
        return "never"
    seconds = int(now - moment)
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


async def status_report(health: Health, store: Store, chat_id: int, chat_api: str) -> str:
    """The /status answer (HTML)."""
    now = time.time()
    queue = await store.messages.queue()
    watches = await store.orders.active()
    here = sum(1 for w in watches if w.chat_id == chat_id)
    paused = await store.chats.paused() | health.telegram.store_holds
    replies = await store.outbox.counts()
    files = await store.follows.count()
    errors = health.poll.errors + health.telegram.errors
    error_text = ", ".join(f"{kind} {count}" for kind, count in sorted(errors.items())) or "none"
    lines = [
        "<b>p2p-bridge status</b>",
        f"Up for {ago(health.started_at, now).removesuffix(' ago')}",
        f"Watched orders: {len(watches)} ({here} in this chat)",
        f"Last Bybit poll: {ago(health.poll.last_success, now)} (chat API: {chat_api})",
        f"Bybit budget: {health.bybit.summary()}",
        f"Polling: {health.poll.summary()}",
        f"Last Telegram send: {ago(health.telegram.last_success, now)}",
        f"Delivery queue: {queue.pending} pending, {queue.held} held"
        f"{f' ({queue.unwatched} of orders no longer watched, delivered all the same)' if queue.unwatched else ''},"
        f" {queue.dead} dead-lettered{' (/retry sends them again)' if queue.dead else ''}, {queue.delivered} delivered",
        *([f"Held files: {files} (a post with the link keeps each one's place; the file follows it)"] if files else []),
        f"Replies to Bybit: {replies[OutState.QUEUED] + replies[OutState.SENDING]} waiting,"
        f" {replies[OutState.SENT]} sent, {replies[OutState.REFUSED] + replies[OutState.DISABLED]} not sent",
        f"Errors since start: {error_text}",
    ]
    if paused:
        held = ", ".join(
            f"{chat} ({reason}; next try {max(0.0, until - now):.0f} s)" for chat, (until, reason) in paused.items()
        )
        lines.append("Held chats: " + held)
    return "\n".join(lines)
