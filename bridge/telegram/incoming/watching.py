"""Router for /watch, /unwatch and /list."""

from __future__ import annotations

import html

from aiogram.filters import CommandObject
from aiogram.types import Message

from bridge.bybit import OrderInfo
from bridge.core.watchlist import Outcome, Result, Watchlist
from bridge.logs import mask
from bridge.store import Store
from bridge.telegram.incoming.answers import answer
from bridge.telegram.incoming.commands import Commands
from bridge.telegram.outgoing.render import short_id

MAX_IDS_PER_COMMAND = 20
commands = Commands("watching")


def order_summary(info: OrderInfo) -> str:
    """One line about an order: side, amounts, counterparty."""
    side = "you sell" if info.you_sell else "you buy"
    return (
        f"{side} {html.escape(info.quantity)} {html.escape(info.token_id)} for "
        f"{html.escape(info.amount)} {html.escape(info.currency_id)} · "
        f"{info.counterparty_role} {html.escape(info.target_nick_name)}"
    )


def describe(result: Result, backfill_limit: int) -> str:
    """The reply line for one order id."""
    code = f"<code>{html.escape(result.order_id)}</code>"
    info = f"\n    {order_summary(result.info)}" if result.info else ""
    match result.outcome:
        case Outcome.ADDED:
            history = f"the last {backfill_limit} messages, then " if backfill_limit else ""
            return f"✅ Watching {code}: forwarding {history}every new message.{info}"
        case Outcome.RESUMED:
            missed = f"the last {backfill_limit} messages missed meanwhile" if backfill_limit else "new messages"
            return f"✅ Watching {code} again: {missed} follow.{info}"
        case Outcome.ALREADY_HERE:
            return f"ℹ️ {code} is already watched here."
        case Outcome.ELSEWHERE:
            return f"ℹ️ {code} is already forwarded to another chat; /unwatch it there first."
        case Outcome.MALFORMED:
            return f"⚠️ {code} is not an order id (Bybit order ids are long numbers)."
        case Outcome.REFUSED_BY_BYBIT:
            return f"❌ Bybit refused order {code}: {html.escape(mask(result.reason))}"
        case Outcome.REMOVED:
            return f"🛑 Stopped forwarding {code}."
        case Outcome.NOT_WATCHED:
            return f"ℹ️ {code} is not watched in this chat."


@commands.command("watch", "ORDER_ID [ORDER_ID…]", "forward a Bybit P2P order's chat here")
async def watch(message: Message, command: CommandObject, watchlist: Watchlist, backfill_limit: int) -> None:
    """/watch ORDER_ID [ORDER_ID…]"""
    ids = list(dict.fromkeys((command.args or "").split()))
    if not ids:
        await answer(message, f"Usage: <code>{commands['watch'].usage}</code> — the id is on the order page.")
        return
    if len(ids) > MAX_IDS_PER_COMMAND:
        await answer(message, f"At most {MAX_IDS_PER_COMMAND} orders per /watch, please.")
        return
    user_id = message.from_user.id if message.from_user else None
    results = await watchlist.add_many(ids, message.chat.id, message.message_thread_id, user_id, list_first=True)
    await answer(message, "\n".join(describe(result, backfill_limit) for result in results))


@commands.command("unwatch", "[ORDER_ID]", "stop forwarding an order (in its topic: that order)")
async def unwatch(
    message: Message, command: CommandObject, watchlist: Watchlist, store: Store, backfill_limit: int
) -> None:
    """/unwatch ORDER_ID, or /unwatch alone inside an order's topic."""
    ids = (command.args or "").split()
    if not ids and message.is_topic_message and message.message_thread_id is not None:
        in_topic = await store.orders.in_thread(message.chat.id, message.message_thread_id)
        ids = [in_topic] if in_topic else []
    if len(ids) != 1:
        usage = commands["unwatch"].usage
        await answer(message, f"Usage: <code>{usage}</code> (inside an order's topic, no id is needed); see /list.")
        return
    result = await watchlist.remove(ids[0], message.chat.id)
    await answer(message, describe(result, backfill_limit))


@commands.command("list", "", "orders forwarded to this chat")
async def list_watches(message: Message, store: Store) -> None:
    """/list"""
    watches = await store.orders.active(message.chat.id)
    if not watches:
        await answer(message, f"No orders are watched here. Start with <code>{commands['watch'].usage}</code>.")
        return
    lines = [f"• <code>{w.order_id}</code> ({short_id(w.order_id)}) — {order_summary(w.info)}" for w in watches]
    await answer(message, f"Watching {len(watches)} order(s):\n" + "\n".join(lines))
