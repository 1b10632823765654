"""The core: which orders are watched, what is new in their chats, and which order a message belongs to."""

from bridge.core.attribution import Counterparty, attribute, to_chat_message
from bridge.core.autowatch import AutoWatch
from bridge.core.chats import plan_records
from bridge.core.details import DetailReads
from bridge.core.listing import Listing
from bridge.core.poller import Poller
from bridge.core.replies import ReplySender
from bridge.core.retention import Retention
from bridge.core.schedule import Due, Schedule
from bridge.core.stats import LagHistogram, PollStats
from bridge.core.statuses import StatusTracker
from bridge.core.watchlist import Outcome, Result, Watchlist

__all__ = [
    "AutoWatch",
    "Counterparty",
    "DetailReads",
    "Due",
    "LagHistogram",
    "Listing",
    "Outcome",
    "PollStats",
    "Poller",
    "ReplySender",
    "Result",
    "Retention",
    "Schedule",
    "StatusTracker",
    "Watchlist",
    "attribute",
    "plan_records",
    "to_chat_message",
]
