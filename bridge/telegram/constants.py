"""Telegram Bot API limits, as enums in one place (from the Bot API docs and FAQ)."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["FileSizeLimit", "FloodLimit", "MessageLimit"]


class MessageLimit(IntEnum):
    """Characters, after entity parsing."""

    TEXT = 4096  # one message
    CAPTION = 1024  # a media caption
    TOPIC_NAME = 128  # a forum topic's name


class FileSizeLimit(IntEnum):
    """Bytes of a file sent by multipart upload (a local Bot API server raises these)."""

    PHOTO_UPLOAD = 10 * 1024 * 1024
    FILE_UPLOAD = 50 * 1024 * 1024
    BOT_DOWNLOAD = 20 * 1024 * 1024  # a file a bot may fetch with getFile


class FloodLimit(IntEnum):
    """Posts Telegram takes before it answers 429."""

    GROUP_MESSAGES_PER_MINUTE = 20  # one group or supergroup
    CHAT_MESSAGES_PER_SECOND = 1  # one chat
    GLOBAL_MESSAGES_PER_SECOND = 30  # all chats together
