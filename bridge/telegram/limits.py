"""Telegram Bot API limits, as named constants (from the Bot API docs and FAQ)."""

TEXT_LIMIT = 4096  # characters of one message, after entity parsing
CAPTION_LIMIT = 1024  # characters of a media caption
TOPIC_NAME_LIMIT = 128  # characters of a forum topic name

UPLOAD_PHOTO_LIMIT = 10 * 1024 * 1024  # bytes, photo by multipart upload
UPLOAD_FILE_LIMIT = 50 * 1024 * 1024  # bytes, other files by multipart upload

GROUP_MESSAGES_PER_MINUTE = 20  # one group or supergroup
CHAT_MESSAGES_PER_SECOND = 1  # one private chat
GLOBAL_MESSAGES_PER_SECOND = 30  # all chats together
