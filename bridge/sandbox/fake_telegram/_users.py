"""Users' messages: the control methods that post them in a chat and queue them as updates."""

from __future__ import annotations

from typing import Any, Final

from bridge.sandbox.fake_telegram._world import _Media, _World
from bridge.sandbox.fake_telegram.constants import (
    CHANNEL_BOT,
    GROUP_ANONYMOUS_BOT,
    OWNER_ID,
    OWNER_NAME,
    POSTING_CHANNEL,
    Anonymity,
    UserFileKind,
)

_PHOTO_SIZES: Final = ((90, 68), (1280, 960))  # (width, height): a thumbnail, then the photo itself
_THUMBNAIL: Final = b"SANDBOX-THUMBNAIL"
"""The bytes of a user photo's thumbnail size: not the photo, so only the largest size gives the real bytes."""


def _command_entities(field_name: str, text: str) -> dict[str, Any]:
    """``{field_name: [bot_command entity]}`` when ``text`` starts with a ``/command``, else ``{}``."""
    if not text.startswith("/"):
        return {}
    command = text.split(maxsplit=1)[0]
    return {field_name: [{"type": "bot_command", "offset": 0, "length": len(command.encode("utf-16-le")) // 2}]}


def _caption(caption: str | None) -> dict[str, Any]:
    """A user message's ``caption`` (and its command entity), or nothing."""
    if caption is None:
        return {}
    return {"caption": caption} | _command_entities("caption_entities", caption)


class _Users(_World):
    """What users post: texts, photos, documents and other files, each queued as a ``message`` update."""

    def user_says(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int = OWNER_ID,
        first_name: str = OWNER_NAME,
        thread_id: int | None = None,
        reply_to_message_id: int | None = None,
        anonymous: Anonymity | None = None,
    ) -> int:
        """Queue a ``message`` update from a user and return its ``message_id``.

        A leading ``/command`` gets a ``bot_command`` entity; in a topic the message is a reply to the
        topic's creation message unless ``reply_to_message_id`` says otherwise (as in Telegram).
        ``anonymous`` posts it as the group (an anonymous admin) or as a channel: ``sender_chat`` says which,
        ``from`` is Telegram's stand-in bot, as in Telegram. A bot that was kicked from the chat gets no update.
        """
        content: dict[str, Any] = {"text": text} | _command_entities("entities", text)
        return self._user_message(
            chat_id,
            content,
            user_id=user_id,
            first_name=first_name,
            thread_id=thread_id,
            reply_to=reply_to_message_id,
            anonymous=anonymous,
        )

    def user_sends_photo(
        self,
        chat_id: int,
        data: bytes,
        *,
        caption: str | None = None,
        thread_id: int | None = None,
        reply_to_message_id: int | None = None,
        user_id: int = OWNER_ID,
        first_name: str = OWNER_NAME,
    ) -> int:
        """Queue a user's photo (as :meth:`user_says` does a text) and return its ``message_id``.

        Like Telegram, ``photo`` lists sizes smallest first: a thumbnail (whose file is not ``data``), then the
        photo, whose file is ``data``.
        """
        sizes = [
            self._issue_file(_Media("photo", thumb_or_photo, "", "image/jpeg", None)) | {"width": w, "height": h}
            for thumb_or_photo, (w, h) in zip((_THUMBNAIL, data), _PHOTO_SIZES, strict=True)
        ]
        content = {"photo": sizes} | _caption(caption)
        return self._user_message(
            chat_id,
            content,
            user_id=user_id,
            first_name=first_name,
            thread_id=thread_id,
            reply_to=reply_to_message_id,
        )

    def user_sends_document(
        self,
        chat_id: int,
        data: bytes,
        file_name: str,
        mime_type: str,
        *,
        caption: str | None = None,
        thread_id: int | None = None,
        reply_to_message_id: int | None = None,
        user_id: int = OWNER_ID,
        first_name: str = OWNER_NAME,
    ) -> int:
        """Queue a user's file sent as a document (as :meth:`user_says` does a text); return its ``message_id``."""
        ids = self._issue_file(_Media("document", data, file_name, mime_type, None))
        content = {"document": ids | {"file_name": file_name, "mime_type": mime_type}} | _caption(caption)
        return self._user_message(
            chat_id,
            content,
            user_id=user_id,
            first_name=first_name,
            thread_id=thread_id,
            reply_to=reply_to_message_id,
        )

    def user_sends_file(
        self,
        chat_id: int,
        kind: UserFileKind,
        data: bytes,
        *,
        mime_type: str = "",
        file_name: str = "",
        caption: str | None = None,
        media_group_id: str | None = None,
        thread_id: int | None = None,
        reply_to_message_id: int | None = None,
        user_id: int = OWNER_ID,
        first_name: str = OWNER_NAME,
    ) -> int:
        """Queue a user's video, voice message, round video note, sticker or audio file with the fields Telegram
        gives each (as :meth:`user_says` does a text); ``media_group_id`` makes it one item of an album.

        Like Telegram, video notes and stickers take no caption.
        """
        if caption is not None and kind in ("video_note", "sticker"):
            raise ValueError(f"a {kind} has no caption")
        ids = self._issue_file(_Media(kind, data, file_name, mime_type, None))
        named = {key: value for key, value in (("file_name", file_name), ("mime_type", mime_type)) if value}
        fields: dict[UserFileKind, dict[str, Any]] = {
            "video": named | {"width": 1280, "height": 720, "duration": 3},
            "voice": {"mime_type": mime_type or "audio/ogg", "duration": 3},
            "video_note": {"length": 384, "duration": 3},
            "sticker": {"type": "regular", "width": 512, "height": 512, "is_animated": False, "is_video": False},
            "audio": named | {"duration": 3},
        }
        content = {kind: ids | fields[kind]} | _caption(caption)
        if media_group_id is not None:
            content["media_group_id"] = media_group_id
        return self._user_message(
            chat_id,
            content,
            user_id=user_id,
            first_name=first_name,
            thread_id=thread_id,
            reply_to=reply_to_message_id,
        )

    def _user_message(
        self,
        chat_id: int,
        content: dict[str, Any],
        *,
        user_id: int,
        first_name: str,
        thread_id: int | None,
        reply_to: int | None,
        anonymous: Anonymity | None = None,
    ) -> int:
        """Post a user's message and queue it as an update (unless the bot is out); return its id."""
        chat = self.chats[chat_id]
        if thread_id is not None and thread_id not in chat.topics:
            raise ValueError(f"no topic {thread_id} in chat {chat_id}")
        if reply_to is not None and reply_to not in chat.messages:
            raise ValueError(f"no message {reply_to} in chat {chat_id}")
        sender = {"id": user_id, "is_bot": False, "first_name": first_name}
        if anonymous == "group":
            sender, content = dict(GROUP_ANONYMOUS_BOT), content | {"sender_chat": chat.as_json()}
        elif anonymous == "channel":
            sender, content = dict(CHANNEL_BOT), content | {"sender_chat": dict(POSTING_CHANNEL)}
        message = self._new_message(chat, sender, thread_id, reply_to, content)
        if not chat.bot_kicked:
            self._queue_update("message", message)
        return int(message["message_id"])
