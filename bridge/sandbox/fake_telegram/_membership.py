"""The bot's membership: kicks, restrictions, rights, group migrations, and the calls that report them."""

from __future__ import annotations

import time
from typing import Any

from bridge.sandbox.fake_telegram._chats import FakeChat
from bridge.sandbox.fake_telegram._params import _Params
from bridge.sandbox.fake_telegram._world import _World
from bridge.sandbox.fake_telegram.constants import (
    _ADMIN_RIGHTS,
    _MEDIA_PERMISSIONS,
    _OWNER,
    _PERMISSIONS,
    OWNER_ID,
    BotStatus,
)


class _Membership(_World):
    """The bot's standing in each chat: kicked, restricted, an administrator with some rights; migrations."""

    def migrate_chat(self, old_id: int, new_id: int) -> FakeChat:
        """Upgrade a group to a supergroup with a new id; sends to the old id get ``migrate_to_chat_id``."""
        old = self.chats[old_id]
        new = self.add_chat(new_id, type="supergroup", title=old.title)
        old.migrated_to = new_id
        self._queue_update("message", self._new_message(old, _OWNER, None, None, {"migrate_to_chat_id": new_id}))
        self._queue_update("message", self._new_message(new, _OWNER, None, None, {"migrate_from_chat_id": old_id}))
        return new

    def kick_bot(self, chat_id: int) -> None:
        """Remove the bot from a chat (sends then get 403) and queue a ``my_chat_member`` update."""
        self._set_bot_standing(self.chats[chat_id], "kicked")

    def restore_bot(self, chat_id: int) -> None:
        """Add the bot back as an administrator with every default right and queue a ``my_chat_member`` update."""
        self._set_bot_standing(self.chats[chat_id], "administrator", rights=dict(_ADMIN_RIGHTS))

    def restrict_bot(
        self,
        chat_id: int,
        *,
        can_send_messages: bool = False,
        can_send_photos: bool = False,
        can_send_documents: bool = False,
        can_send_videos: bool = False,
    ) -> None:
        """Restrict the bot in a supergroup, as an admin would (taking its admin rights too).

        Every permission not named is withheld. Sends it may not make answer 400 "not enough rights to send …";
        queues a ``my_chat_member`` update whose new member is ``restricted``.
        """
        chat = self._chat_of_members(chat_id)
        if chat.type != "supergroup":
            raise ValueError("only supergroups restrict single members")
        permissions = dict.fromkeys(_PERMISSIONS, False) | {
            "can_send_messages": can_send_messages,
            "can_send_photos": can_send_photos,
            "can_send_documents": can_send_documents,
            "can_send_videos": can_send_videos,
        }
        self._set_bot_standing(chat, "restricted", permissions=permissions)

    def unrestrict_bot(self, chat_id: int) -> None:
        """Lift the bot's restrictions: it becomes a plain ``member`` (sends work; no pins, no topics).

        Queues a ``my_chat_member`` update; does nothing if the bot was not restricted.
        """
        chat = self._chat_of_members(chat_id)
        if chat.bot_status == "restricted":
            self._set_bot_standing(chat, "member")

    def set_bot_rights(
        self,
        chat_id: int,
        *,
        can_manage_topics: bool | None = None,
        can_pin_messages: bool | None = None,
        can_delete_messages: bool | None = None,
    ) -> None:
        """Make the bot an administrator with these rights changed (the others as they were, or the defaults).

        Without ``can_manage_topics`` createForumTopic is refused, and closing, reopening, editing or posting in a
        closed topic the bot did not create; without ``can_pin_messages`` pinning; without
        ``can_delete_messages`` deleting a topic it did not create. Queues a ``my_chat_member`` update if
        anything changed.
        """
        chat = self._chat_of_members(chat_id)
        changes = {
            "can_manage_topics": can_manage_topics,
            "can_pin_messages": can_pin_messages,
            "can_delete_messages": can_delete_messages,
        }
        rights = dict(chat.bot_rights if chat.bot_status == "administrator" else _ADMIN_RIGHTS)
        rights |= {right: value for right, value in changes.items() if value is not None}
        self._set_bot_standing(chat, "administrator", rights=rights)

    def _chat_of_members(self, chat_id: int) -> FakeChat:
        """A group or supergroup the bot is in, for the control methods that change its standing."""
        chat = self.chats[chat_id]
        if chat.type == "private":
            raise ValueError("a private chat has no member rights")
        if chat.bot_kicked:
            raise ValueError(f"the bot is not in chat {chat_id}; restore_bot first")
        return chat

    def _bot_member(self, chat: FakeChat) -> dict[str, Any]:
        """The bot's ``ChatMember`` in ``chat``, as the Bot API writes it (``Client::JsonChatMember``)."""
        member: dict[str, Any] = {"status": chat.bot_status, "user": self._bot_user}
        match chat.bot_status:
            case "administrator":
                return member | chat.bot_rights
            case "restricted":
                permissions = chat.bot_permissions
                media = any(permissions[name] for name in _MEDIA_PERMISSIONS)
                return member | {"until_date": 0, **permissions, "can_send_media_messages": media, "is_member": True}
            case "kicked":
                return member | {"until_date": 0}
            case "member":
                return member

    def _set_bot_standing(
        self,
        chat: FakeChat,
        status: BotStatus,
        *,
        rights: dict[str, bool] | None = None,
        permissions: dict[str, bool] | None = None,
    ) -> None:
        """Change the bot's standing in ``chat``; if that changed anything, queue ``my_chat_member``."""
        old = self._bot_member(chat)
        chat.bot_status = status
        if rights is not None:
            chat.bot_rights = rights
        if permissions is not None:
            chat.bot_permissions = permissions
        new = self._bot_member(chat)
        if new != old:
            change = {"chat": chat.as_json(), "from": _OWNER, "date": int(time.time())}
            self._queue_update("my_chat_member", change | {"old_chat_member": old, "new_chat_member": new})

    async def _get_chat(self, params: _Params) -> dict[str, Any]:
        chat = self._chat(params)
        gifts = dict.fromkeys(
            ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription", "gifts_from_channels"),
            False,
        )
        return chat.as_json() | {"accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": gifts}

    async def _get_chat_member(self, params: _Params) -> dict[str, Any]:
        chat = self._chat(params)
        user_id = params.integer("user_id")
        if user_id == self._bot_user["id"]:
            return self._bot_member(chat)
        if user_id == OWNER_ID:
            return {"status": "creator", "user": _OWNER, "is_anonymous": False}
        return {"status": "member", "user": {"id": user_id, "is_bot": False, "first_name": "User"}}

    async def _get_chat_administrators(self, params: _Params) -> list[dict[str, Any]]:
        chat = self._chat(params)
        owner = {"status": "creator", "user": _OWNER, "is_anonymous": False}
        return [owner, self._bot_member(chat)] if chat.bot_status == "administrator" else [owner]
