"""Router for answering buyers from Telegram: a reply to one of the bridge's posts, or /send."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiogram import Bot, F
from aiogram.enums import ContentType as MessageType
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import CommandObject
from aiogram.types import Message

from bridge.bybit import ContentType
from bridge.core.watchlist import ORDER_ID
from bridge.store import Attachment, NewReply, Store
from bridge.telegram.constants import FileSizeLimit
from bridge.telegram.incoming.commands import Commands

log = logging.getLogger(__name__)

MAX_REPLY_CHARS = 1000  # Bybit's session chat takes at most this many characters
commands = Commands("replies")


@dataclass(frozen=True)
class ReplyPolicy:
    """Who may send to Bybit from Telegram: anyone in a served chat, or only ``allowed`` user ids.

    A message posted anonymously (as the group or as a channel) has no author to check: it is sent only
    when nobody is singled out (``allowed`` empty) and ``from_anonymous`` says so.
    """

    enabled: bool
    allowed: frozenset[int]
    from_anonymous: bool = False

    def refusal(self, user_id: int | None, text: str, *, anonymous: bool = False) -> str:
        """Why this reply will not be sent ("" when it may be)."""
        if not self.enabled:
            return "sending to Bybit is turned off here (REPLIES_ENABLED=false)"
        if anonymous and self.allowed:
            return (
                "it was posted anonymously (as the group or a channel), so TELEGRAM_REPLY_USER_IDS cannot vouch for it"
            )
        if anonymous and not self.from_anonymous:
            return (
                "it was posted anonymously (as the group or a channel), so nobody can tell who sent it"
                " (REPLIES_FROM_ANONYMOUS=true lets such replies through)"
            )
        if self.allowed and user_id not in self.allowed:
            return "you may not send to Bybit from here (TELEGRAM_REPLY_USER_IDS)"
        if len(text) > MAX_REPLY_CHARS:
            return f"it is longer than Bybit's {MAX_REPLY_CHARS} characters"
        return ""


async def replied_order(message: Message, store: Store) -> str | None:
    """The order whose forwarded message or card ``message`` replies to; None for team talk.

    In a forum every message of a topic replies to the topic's creation message: that is no reply.
    """
    target = message.reply_to_message
    if target is None or target.forum_topic_created is not None or target.message_id == message.message_thread_id:
        return None
    return await store.orders.of_post(message.chat.id, target.message_id)


async def reply(message: Message, store: Store, replies: ReplyPolicy) -> None:
    """A teammate's text reply to one of the bridge's posts goes to that order's Bybit chat."""
    order_id = await replied_order(message, store)
    if order_id is not None:
        await _queue(message, store, replies, order_id, message.text or "")


async def reply_with_file(message: Message, bot: Bot, store: Store, replies: ReplyPolicy) -> None:
    """A photo, file or video sent as a reply goes to the order's Bybit chat (jpg, png, pdf or mp4, as Bybit
    takes); its caption follows as a text."""
    order_id = await replied_order(message, store)
    if order_id is None:
        return
    if message.photo:
        photo = message.photo[-1]  # the largest size
        file_id, size, name, mime = photo.file_id, photo.file_size, f"photo-{message.message_id}.jpg", "image/jpeg"
    elif message.document:
        document = message.document
        file_id, size, name = document.file_id, document.file_size, document.file_name or "file"
        mime = document.mime_type or ""
    elif message.video:
        video = message.video
        file_id, size, name = video.file_id, video.file_size, video.file_name or f"video-{message.message_id}.mp4"
        mime = video.mime_type or ""
    else:
        return
    content_type = ACCEPTED_FILES.get(mime)
    attachment: Attachment | None = None
    if content_type is None:
        reason = "Bybit takes jpg, png, pdf and mp4 files only"
    elif (size or 0) > FileSizeLimit.BOT_DOWNLOAD:
        reason = "the file is larger than the 20 MB a bot may fetch from Telegram"
    else:
        try:
            data = await bot.download(file_id)
        except (TelegramAPIError, OSError) as exc:
            log.warning("order %s: could not fetch a teammate's file from Telegram: %s", order_id, exc)
            reason = "the bridge could not fetch the file from Telegram"
        else:
            reason = ""
            attachment = Attachment(data.read() if data else b"", name, mime, content_type)
    await _queue(message, store, replies, order_id, message.caption or "", file=attachment, reason=reason)


async def reply_bybit_cannot_take(message: Message, store: Store, replies: ReplyPolicy) -> None:
    """Any other reply (a voice message, a video note, a sticker, a location…) is not sent, and says so."""
    order_id = await replied_order(message, store)
    if order_id is None:
        return
    kind = UNSENDABLE.get(message.content_type, f"a {message.content_type.replace('_', ' ')}")
    reason = f"Bybit's chat takes text, photos, PDF and mp4 files only, not {kind}"
    await _queue(message, store, replies, order_id, "", reason=reason)


@commands.command("send", "[ORDER_ID] TEXT", "send TEXT to the buyer's Bybit chat (in an order's topic: that order)")
async def send(message: Message, command: CommandObject, store: Store, replies: ReplyPolicy) -> None:
    """/send ORDER_ID TEXT, or /send TEXT inside an order's topic."""
    first, _, rest = (command.args or "").strip().partition(" ")
    order_id: str | None = None
    text = ""
    watch = await store.orders.get(first) if ORDER_ID.match(first) else None
    if watch and watch.active and watch.chat_id == message.chat.id:
        order_id, text = first, rest.strip()
    elif message.is_topic_message and message.message_thread_id is not None:  # a number not watched here is text
        order_id = await store.orders.in_thread(message.chat.id, message.message_thread_id)
        text = (command.args or "").strip()
    if order_id is None or not text:
        await message.reply(
            f"Usage: <code>{commands['send'].usage}</code>: an order watched here, and the text; see /list."
        )
        return
    await _queue(message, store, replies, order_id, text)


async def _queue(
    message: Message,
    store: Store,
    replies: ReplyPolicy,
    order_id: str,
    text: str,
    *,
    file: Attachment | None = None,
    reason: str = "",
) -> None:
    """Write the reply to the outbox (once per Telegram message), or record why it will not be sent."""
    user, anonymous = message.from_user, message.sender_chat
    user_id, name = (user.id, user.full_name) if user else (None, "")
    if anonymous is not None:  # ``from`` is Telegram's stand-in bot: name the group or channel instead
        name = f"{anonymous.title or anonymous.id} (anonymous)"
    reason = replies.refusal(user_id, text, anonymous=anonymous is not None) or reason
    new = NewReply(message.chat.id, message.message_id, order_id, user_id, name, text, file)
    if await store.outbox.add(new, reason) and not reason:
        log.info("order %s: %s (user %s) replied from Telegram; queued for Bybit", order_id, name, user_id)


TEAM_REPLIES = (
    (reply, F.reply_to_message & F.text & ~F.text.startswith("/")),
    (reply_with_file, F.reply_to_message & (F.photo | F.document | F.video)),
    (reply_bybit_cannot_take, F.reply_to_message & ~F.text),
)
"""Registered after the commands, in this order: a plain text reply, a photo, file or video, anything else."""
ACCEPTED_FILES = {
    "image/jpeg": ContentType.PICTURE,
    "image/png": ContentType.PICTURE,
    "application/pdf": ContentType.PDF,
    "video/mp4": ContentType.VIDEO,
}
"""MIME types Bybit's chat takes (jpg, png, pdf, mp4), as the content type they are sent with."""
UNSENDABLE: dict[str, str] = {
    MessageType.VOICE: "a voice message",
    MessageType.VIDEO_NOTE: "a round video message",
    MessageType.STICKER: "a sticker",
    MessageType.AUDIO: "an audio file",
    MessageType.LOCATION: "a location",
    MessageType.VENUE: "a place",
    MessageType.CONTACT: "a contact",
    MessageType.POLL: "a poll",
    MessageType.DICE: "a dice",
    MessageType.STORY: "a story",
}
"""How a "not sent" answer names what a teammate sent (others by Telegram's own name for it)."""
