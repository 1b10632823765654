"""A chat as the fake keeps it: its forum topics, pins, messages and the bot's standing there."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bridge.sandbox.fake_telegram.constants import _ADMIN_RIGHTS, _PERMISSIONS, BotStatus, ChatType


@dataclass
class FakeTopic:
    """A forum topic; ``thread_id`` is the id of its creation service message, as in Telegram.

    ``by_bot`` marks a topic the bot created: Telegram lets a topic's creator post in it, close, reopen and
    edit it without the ``can_manage_topics`` right.
    """

    thread_id: int
    name: str
    icon_color: int
    closed: bool = False
    by_bot: bool = True


@dataclass
class FakeChat:
    """A chat the bot is in; ``messages`` holds every message by id, as Telegram would quote it."""

    id: int
    type: ChatType
    title: str
    is_forum: bool = False
    topics: dict[int, FakeTopic] = field(default_factory=dict)
    pinned: list[int] = field(default_factory=list)
    migrated_to: int | None = None
    bot_status: BotStatus = "administrator"
    bot_rights: dict[str, bool] = field(default_factory=lambda: dict(_ADMIN_RIGHTS))
    """The bot's administrator rights, while ``bot_status`` is ``"administrator"``."""
    bot_permissions: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(_PERMISSIONS, False))
    """What the bot may do, while ``bot_status`` is ``"restricted"``."""
    messages: dict[int, dict[str, Any]] = field(default_factory=dict, repr=False)
    last_message_id: int = 0

    @property
    def bot_kicked(self) -> bool:
        """Whether the bot was removed from (or, in a private chat, blocked by) the chat."""
        return self.bot_status == "kicked"

    def bot_may(self, right: str) -> bool:
        """Whether the bot holds ``right`` (e.g. ``can_pin_messages``) as an administrator or a restricted member.

        A plain member holds none: the fake's chats do not grant members pins or topics.
        """
        if self.bot_status == "administrator":
            return self.bot_rights.get(right, False)
        return self.bot_status == "restricted" and self.bot_permissions.get(right, False)

    def bot_manages(self, topic: FakeTopic) -> bool:
        """Whether the bot may close, reopen, edit or post in a closed ``topic``.

        It may if it created the topic or is an administrator with ``can_manage_topics`` (a restricted member's
        permission does not count), as tdesktop's ``Data::ForumTopic::canWrite``/``canToggleClosed`` and TDLib's
        ``ForumTopicManager::can_send_message_to_forum_topic``/``can_edit_topics`` decide.
        """
        return topic.by_bot or (self.bot_status == "administrator" and self.bot_rights.get("can_manage_topics", False))

    def as_json(self) -> dict[str, Any]:
        """The ``Chat`` object Telegram embeds in messages."""
        if self.type == "private":
            return {"id": self.id, "type": self.type, "first_name": self.title}
        return {"id": self.id, "type": self.type, "title": self.title} | ({"is_forum": True} if self.is_forum else {})
