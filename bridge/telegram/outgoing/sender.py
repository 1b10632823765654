"""Sending one rendered post to Telegram: text as is, media uploaded from Bybit's host."""

from __future__ import annotations

from aiogram import Bot
from aiogram.client.default import Default
from aiogram.types import BufferedInputFile, Message, ReplyParameters

from bridge.bybit import MessageKind
from bridge.bybit.media import MediaFetcher
from bridge.errors import MediaUnavailable, describe
from bridge.telegram.constants import FileSizeLimit
from bridge.telegram.outgoing.render import MediaPart, Part, TextPart, as_plain


class TelegramSender:
    """Posts parts into a chat (and topic); aiogram's exceptions pass through to the caller."""

    def __init__(self, bot: Bot, media: MediaFetcher) -> None:
        self._bot = bot
        self._media = media

    async def send(
        self, chat_id: int, thread_id: int | None, part: Part, reply_to: int | None = None, *, plain: bool = False
    ) -> int:
        """Post ``part``; returns Telegram's message id. Raises MediaUnavailable when a file cannot be fetched.

        ``plain`` sends the text without formatting (after Telegram refused its entities).
        """
        reply = ReplyParameters(message_id=reply_to, allow_sending_without_reply=True) if reply_to else None
        parse_mode = None if plain else Default("parse_mode")
        if isinstance(part, TextPart):
            text = as_plain(part.html) if plain else part.html
            sent = await self._bot.send_message(
                chat_id, text, parse_mode=parse_mode, message_thread_id=thread_id, reply_parameters=reply
            )
            return sent.message_id
        return (await self._send_media(chat_id, thread_id, part, reply, parse_mode)).message_id

    async def edit(self, chat_id: int, message_id: int, part: TextPart) -> None:
        """Replace the text of a post the bot made."""
        await self._bot.edit_message_text(part.html, chat_id=chat_id, message_id=message_id)

    async def _send_media(
        self,
        chat_id: int,
        thread_id: int | None,
        part: MediaPart,
        reply: ReplyParameters | None,
        parse_mode: str | Default | None,
    ) -> Message:
        limit = FileSizeLimit.PHOTO_UPLOAD if part.kind is MessageKind.IMAGE else FileSizeLimit.FILE_UPLOAD
        try:
            data = await self._media.fetch(part.url, limit)
        except MediaUnavailable:
            raise
        except Exception as exc:  # a link the HTTP client cannot even use (a tab in it, a bad port): shown as is
            raise MediaUnavailable(f"the file link cannot be fetched ({describe(exc)})") from exc
        upload = BufferedInputFile(data, filename=part.file_name)
        caption = part.caption if isinstance(parse_mode, Default) else as_plain(part.caption)
        if part.kind is MessageKind.IMAGE:
            send = self._bot.send_photo
        elif part.kind is MessageKind.VIDEO:
            send = self._bot.send_video  # type: ignore[assignment]
        else:
            send = self._bot.send_document  # type: ignore[assignment]
        return await send(
            chat_id, upload, caption=caption, parse_mode=parse_mode, message_thread_id=thread_id, reply_parameters=reply
        )
