"""Bybit P2P: the signed HTTP client, its tolerant models, Bybit's constants, the chat APIs and media downloads."""

from bridge.bybit._client import (
    BUDGET_MARGIN,
    MAX_ORDER_PAGES,
    MESSAGE_PAGE_SIZE,
    SESSION_PAGE_SIZE,
    URGENT_READS,
    BybitClient,
)
from bridge.bybit.budget import BudgetStats, log_budget
from bridge.bybit.chat import ApiName, ChatSource, KnownIds, collect_new, find
from bridge.bybit.constants import ContentType, MsgType, OrderStatus, RetCode, RoleType
from bridge.bybit.media import MediaFetcher, MediaHosts
from bridge.bybit.models import (
    Account,
    ChatItem,
    ChatMessage,
    MessageKind,
    OrderInfo,
    OrderSummary,
    SessionMessage,
    SessionSummary,
    parse_items,
)

__all__ = [
    "BUDGET_MARGIN",
    "MAX_ORDER_PAGES",
    "MESSAGE_PAGE_SIZE",
    "SESSION_PAGE_SIZE",
    "URGENT_READS",
    "Account",
    "ApiName",
    "BudgetStats",
    "BybitClient",
    "ChatItem",
    "ChatMessage",
    "ChatSource",
    "ContentType",
    "KnownIds",
    "MediaFetcher",
    "MediaHosts",
    "MessageKind",
    "MsgType",
    "OrderInfo",
    "OrderStatus",
    "OrderSummary",
    "RetCode",
    "RoleType",
    "SessionMessage",
    "SessionSummary",
    "collect_new",
    "find",
    "log_budget",
    "parse_items",
]
