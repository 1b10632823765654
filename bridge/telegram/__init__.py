"""The Telegram side: the bot, what comes in (``incoming``) and what goes out (``outgoing``)."""

from bridge.telegram.bot import create_bot

__all__ = ["create_bot"]
