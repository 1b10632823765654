"""Telegram, incoming: the dispatcher, one router per feature, access control and /status."""

from bridge.telegram.incoming.dependencies import Dependencies
from bridge.telegram.incoming.dispatcher import COMMANDS, HELP_TEXT, create_dispatcher, publish_commands
from bridge.telegram.incoming.replies import ReplyPolicy
from bridge.telegram.incoming.status import Health

__all__ = ["COMMANDS", "HELP_TEXT", "Dependencies", "Health", "ReplyPolicy", "create_dispatcher", "publish_commands"]
