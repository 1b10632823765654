"""The Telegram side: the bot (``bot``), what comes in (``incoming``) and what goes out (``outgoing``).

Nothing is imported here: the settings read ``constants`` without loading the bot's library (seconds).
"""

__all__ = ()
