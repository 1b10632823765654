"""The fake Telegram's copy of Telegram's values: limits, paces, the bot's rights and refusal texts."""

from __future__ import annotations

from typing import Final, Literal

ChatType = Literal["private", "group", "supergroup"]
MediaKind = Literal["photo", "document", "video"]
"""The files the bot sends."""
FileKind = Literal["photo", "document", "video", "voice", "video_note", "sticker", "audio"]
"""The files a message may carry (users send all of these)."""
UserFileKind = Literal["video", "voice", "video_note", "sticker", "audio"]
BotStatus = Literal["administrator", "member", "restricted", "kicked"]

MAX_TEXT_CHARS: Final = 4096
MAX_CAPTION_CHARS: Final = 1024
MAX_RAW_TEXT_BYTES: Final = 1 << 15  # text or caption as sent, before parsing (Client::get_formatted_text)
MAX_TOPIC_NAME_CHARS: Final = 128
URL_FETCH_TIMEOUT: Final = 5.0
DEFAULT_TOPIC_COLOR: Final = 7322096
_MB = 1024 * 1024
MAX_DOWNLOAD_BYTES: Final = 20 * _MB  # the largest file getFile lets a bot download
_SIZE_LIMITS: Final[dict[MediaKind, tuple[int, int]]] = {  # (by upload, by URL)
    "photo": (10 * _MB, 5 * _MB),
    "document": (50 * _MB, 20 * _MB),
    "video": (50 * _MB, 20 * _MB),
}
REACTION_EMOJI: Final = frozenset(
    [
        "👍",
        "👎",
        "❤",
        "🔥",
        "🥰",
        "👏",
        "😁",
        "🤔",
        "🤯",
        "😱",
        "🤬",
        "😢",
        "🎉",
        "🤩",
        "🙏",
        "👌",
        "🕊",
        "🤝",
        "✍",
        "🤗",
        "🫡",
        "👀",
        "💯",
        "⚡",
        "🏆",
    ]
)
"""Some of the emoji the Bot API allows as a reaction (ReactionTypeEmoji); anything else is REACTION_INVALID."""
_PRIVATE_PACE = (1, 1.0)  # messages per seconds, sliding window
_GROUP_PACE = (20, 60.0)
_GLOBAL_PACE = (30, 1.0)
Anonymity = Literal["group", "channel"]
"""How a message may be posted without its author: by an anonymous admin as the group, or as a channel."""
GROUP_ANONYMOUS_BOT: Final = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
"""The ``from`` Telegram gives a message an anonymous admin posted as the group."""
CHANNEL_BOT: Final = {"id": 136817688, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"}
"""The ``from`` Telegram gives a message posted in a group as a channel."""
POSTING_CHANNEL: Final = {"id": -1002000000001, "type": "channel", "title": "Merchant news"}
"""The channel messages posted "as a channel" come from."""
OWNER_ID: Final = 777
OWNER_NAME: Final = "Alice"
_OWNER: Final = {"id": OWNER_ID, "is_bot": False, "first_name": OWNER_NAME}
_ADMIN_RIGHTS: Final = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": False,
    "can_restrict_members": False,
    "can_promote_members": False,
    "can_change_info": False,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
    "can_send_welcome_messages": False,
    "can_pin_messages": True,
    "can_manage_topics": True,
}
_PERMISSIONS: Final = (  # a restricted member's fields, in the Bot API's order (Client::json_store_permissions)
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_react_to_messages",
    "can_edit_tag",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
)
_MEDIA_PERMISSIONS: Final = _PERMISSIONS[1:7]  # what the legacy can_send_media_messages sums up
# What a send needs and how Telegram names it when missing (TDLib can_send_message_content, MessageContent.cpp).
_SEND_RIGHTS: Final[dict[str, tuple[str, str]]] = {
    "text": ("can_send_messages", "text messages"),
    "photo": ("can_send_photos", "photos"),
    "document": ("can_send_documents", "documents"),
    "video": ("can_send_videos", "videos"),
}
_KICKED: Final[dict[ChatType, str]] = {
    "private": "Forbidden: bot was blocked by the user",
    "group": "Forbidden: bot was kicked from the group chat",
    "supergroup": "Forbidden: bot was kicked from the supergroup chat",
}
