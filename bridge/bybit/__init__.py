"""Bybit P2P: the signed HTTP client, its models, and the two chat back ends."""

from bridge.bybit._client import MESSAGE_PAGE_SIZE, BybitClient
from bridge.bybit.models import ChatMessage, MessageKind, OrderInfo, SessionMessage

__all__ = ["MESSAGE_PAGE_SIZE", "BybitClient", "ChatMessage", "MessageKind", "OrderInfo", "SessionMessage"]
