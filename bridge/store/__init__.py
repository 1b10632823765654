"""The store: watched orders, every message seen and its delivery state, per-chat state, small values."""

from bridge.store._chats import Chats
from bridge.store._follows import Follows
from bridge.store._messages import Messages
from bridge.store._orders import Orders
from bridge.store._outbox import Outbox
from bridge.store._records import (
    ALERT_ID_PREFIX,
    Attachment,
    FileToFollow,
    NewReply,
    Outgoing,
    OutState,
    Pending,
    Pruned,
    Queue,
    Retirement,
    State,
    Wakeups,
    Watch,
)
from bridge.store._schema import MIGRATIONS, SCHEMA_VERSION, Migration
from bridge.store._store import Store
from bridge.store._values import Values

__all__ = [
    "ALERT_ID_PREFIX",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Attachment",
    "Chats",
    "FileToFollow",
    "Follows",
    "Messages",
    "Migration",
    "NewReply",
    "Orders",
    "OutState",
    "Outbox",
    "Outgoing",
    "Pending",
    "Pruned",
    "Queue",
    "Retirement",
    "State",
    "Store",
    "Values",
    "Wakeups",
    "Watch",
]
