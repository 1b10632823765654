"""Sending one rendered post to Telegram: text as is, media uploaded from Bybit's host."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import BufferedInputFile, Message, ReplyParameters

from bridge.bybit import MessageKind
from bridge.media import MediaFetcher
from bridge.render import MediaPart, Part, TextPart
from bridge.telegram.limits import UPLOAD_FILE_LIMIT, UPLOAD_PHOTO_LIMIT


class TelegramSender:
    """Posts parts into a chat (and topic); aiogram's exceptions pass through to the caller."""

    def __init__(self, bot: Bot, media: MediaFetcher) -> None:
        self._bot = bot
        self._media = media

    async def send(self, chat_id: int, thread_id: int | None, part: Part, reply_to: int | None = None) -> int:
        """Post ``part``; returns Telegram's message id. Raises MediaUnavailable when a file cannot be fetched."""
        reply = ReplyParameters(message_id=reply_to, allow_sending_without_reply=True) if reply_to else None
        if isinstance(part, TextPart):
            sent = await self._bot.send_message(chat_id, part.html, message_thread_id=thread_id, reply_parameters=reply)
            return sent.message_id
        return (await self._send_media(chat_id, thread_id, part, reply)).message_id

    async def _send_media(
        self, chat_id: int, thread_id: int | None, part: MediaPart, reply: ReplyParameters | None
    ) -> Message:
        limit = UPLOAD_PHOTO_LIMIT if part.kind is MessageKind.IMAGE else UPLOAD_FILE_LIMIT
        upload = BufferedInputFile(await self._media.fetch(part.url, limit), filename=part.file_name)
        if part.kind is MessageKind.IMAGE:
            return await self._bot.send_photo(
                chat_id, upload, caption=part.caption, message_thread_id=thread_id, reply_parameters=reply
            )
        if part.kind is MessageKind.VIDEO:
            return await self._bot.send_video(
                chat_id, upload, caption=part.caption, message_thread_id=thread_id, reply_parameters=reply
            )
        return await self._bot.send_document(
            chat_id, upload, caption=part.caption, message_thread_id=thread_id, reply_parameters=reply
        )
