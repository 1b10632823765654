"""What handlers receive by name, typed: aiogram passes the dispatcher's workflow data to every handler."""

from __future__ import annotations

from typing import TypedDict

from bridge.bybit.chat import ChatSource
from bridge.core.watchlist import Watchlist
from bridge.store import Store
from bridge.telegram.incoming.replies import ReplyPolicy
from bridge.telegram.incoming.status import Health


class Dependencies(TypedDict):
    """Every dependency a handler may ask for, by parameter name."""

    store: Store
    watchlist: Watchlist
    health: Health
    chat_source: ChatSource
    backfill_limit: int
    bot_username: str
    help_text: str
    replies: ReplyPolicy
