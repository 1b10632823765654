"""What a Telegram 400 means for a post: Telegram says it only in words, so they are matched here, once."""

from __future__ import annotations

from enum import Enum

from aiogram.exceptions import TelegramBadRequest


class Refusal(Enum):
    """Kinds of ``400 Bad Request`` answers the bridge acts on differently."""

    CHAT_GONE = "chat not found"  # hold the chat, like a removed bot
    NO_RIGHTS = "no rights"  # the bot may not post here (restricted, read-only): hold the chat
    THREAD_GONE = "topic deleted"  # make the order a new topic
    TOPIC_CLOSED = "topic closed"  # reopen it, or post in the general thread
    ENTITIES = "bad formatting"  # send the same text without formatting
    OTHER = "refused"  # permanent for this post


_MARKERS: tuple[tuple[Refusal, tuple[str, ...]], ...] = (
    (Refusal.CHAT_GONE, ("chat not found",)),
    (
        Refusal.NO_RIGHTS,
        (
            "not enough rights",
            "have no rights",
            "need administrator rights",
            "chat_write_forbidden",
            "chat_restricted",
            "chat_send_",  # CHAT_SEND_PLAIN_FORBIDDEN, CHAT_SEND_PHOTOS_FORBIDDEN, …
            "chat_admin_required",
        ),
    ),
    (Refusal.THREAD_GONE, ("message thread not found", "topic_deleted", "topic_id_invalid")),
    (Refusal.TOPIC_CLOSED, ("topic_closed",)),
    (Refusal.ENTITIES, ("can't parse entities", "can't find end", "unsupported start tag", "entity_text_invalid")),
)


def refusal(exc: TelegramBadRequest) -> Refusal:
    """Classify a 400 by its description."""
    text = exc.message.lower()
    for kind, markers in _MARKERS:
        if any(marker in text for marker in markers):
            return kind
    return Refusal.OTHER
