"""Telegram, outgoing: pending messages rendered, paced and posted into each order's home, and every refusal judged."""

from bridge.telegram.outgoing.calls import CallCounter, CallStats, TelegramCaller
from bridge.telegram.outgoing.delivery import Delivery
from bridge.telegram.outgoing.feedback import Feedback
from bridge.telegram.outgoing.homes import Homes
from bridge.telegram.outgoing.pacing import Pacer, PacingMiddleware
from bridge.telegram.outgoing.render import short_id
from bridge.telegram.outgoing.sender import TelegramSender

__all__ = [
    "CallCounter",
    "CallStats",
    "Delivery",
    "Feedback",
    "Homes",
    "Pacer",
    "PacingMiddleware",
    "TelegramCaller",
    "TelegramSender",
    "short_id",
]
