"""The bot's messages: sendMessage/sendPhoto/sendDocument/sendVideo, edits, reactions, pins."""

from __future__ import annotations

import mimetypes
import time
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import aiohttp
from yarl import URL

from bridge.sandbox.fake_telegram._chats import FakeChat
from bridge.sandbox.fake_telegram._html import _plain_text
from bridge.sandbox.fake_telegram._params import _bad, _Params, _Upload
from bridge.sandbox.fake_telegram._world import SentMessage, _Media, _World
from bridge.sandbox.fake_telegram.constants import (
    _SEND_RIGHTS,
    _SIZE_LIMITS,
    MAX_CAPTION_CHARS,
    MAX_TEXT_CHARS,
    REACTION_EMOJI,
    URL_FETCH_TIMEOUT,
    MediaKind,
)


@dataclass(frozen=True)
class _Target:
    chat: FakeChat
    thread_id: int | None
    reply_to: int | None


async def _fetch(url: str, limit: int) -> tuple[bytes, str]:
    """Download ``url`` the way Telegram does for media passed by URL."""
    failed = _bad("failed to get HTTP URL content")
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=URL_FETCH_TIMEOUT)) as session,
            session.get(url) as response,
        ):
            if response.status != 200:
                raise failed
            data = await response.read()
            content_type = response.content_type
    except (aiohttp.ClientError, TimeoutError):
        raise failed from None
    if len(data) > limit:
        raise _bad("file is too big")
    return data, content_type


class _Messages(_World):
    """The bot's posts: sends with their checks, edits, reactions and pins."""

    def _target(self, params: _Params) -> _Target:
        chat = self._chat(params)
        thread_id = params.integer("message_thread_id")
        if thread_id is not None and thread_id not in chat.topics:
            raise _bad("message thread not found")
        reply = params.json("reply_parameters")
        if isinstance(reply, dict):
            reply_to = reply.get("message_id")
            tolerant = bool(reply.get("allow_sending_without_reply"))
        else:
            reply_to = params.integer("reply_to_message_id")
            tolerant = params.flag("allow_sending_without_reply")
        if reply_to is not None and reply_to not in chat.messages:
            if not tolerant:
                raise _bad("message to be replied not found")
            reply_to = None
        return _Target(chat, thread_id, reply_to)

    def _admit(self, target: _Target, content: str) -> None:
        """Refuse a post the bot may not make there: its rights first (TDLib checks those), then a closed topic.

        "not enough rights to send … to the chat": TDLib's ``can_send_message_content`` (MessageContent.cpp).
        "TOPIC_CLOSED": the server's code, which bots see as ``Bad Request: TOPIC_CLOSED``
        (rteixeirax/qbittorrent_telegram_notification#12, Rongronggg9/RSS-to-Telegram-Bot#275).
        """
        chat = target.chat
        permission, what = _SEND_RIGHTS[content]
        if chat.bot_status == "restricted" and not chat.bot_permissions[permission]:
            raise _bad(f"not enough rights to send {what} to the chat")
        topic = chat.topics.get(target.thread_id) if target.thread_id is not None else None
        if topic is not None and topic.closed and not chat.bot_manages(topic):
            raise _bad("TOPIC_CLOSED")

    async def _media(self, kind: MediaKind, params: _Params) -> _Media:
        """The file of a send: an upload, a URL fetched now, or a file_id this fake issued."""
        upload_limit, url_limit = _SIZE_LIMITS[kind]
        source = params.input_file(kind)
        if source is None:
            raise _bad(f"there is no {kind} in the request")
        if isinstance(source, _Upload):
            if len(source.data) > upload_limit:
                raise _bad("file is too big")
            mime_type = mimetypes.guess_type(source.file_name)[0] or source.content_type
            return _Media(kind, source.data, source.file_name, mime_type, None)
        if source.startswith(("http://", "https://")):
            data, mime_type = await _fetch(source, url_limit)
            file_name = PurePosixPath(URL(source).path).name or kind
            return _Media(kind, data, file_name, mime_type, source)
        known = self._files.get(source)
        if known is None or known.kind != kind:
            raise _bad("wrong file identifier/HTTP URL specified")
        return known

    def _media_json(self, media: _Media) -> dict[str, Any]:
        """The ``photo``/``document``/``video`` field of the returned Message; issues a new file_id."""
        ids = self._issue_file(media)
        named = {"file_name": media.file_name, "mime_type": media.mime_type}
        match media.kind:
            case "photo":
                return {"photo": [ids | {"width": 800, "height": 600}]}
            case "document":
                return {"document": ids | named}
            case "video":
                return {"video": ids | named | {"width": 1280, "height": 720, "duration": 1}}
            case other:
                raise AssertionError(f"the bot sends no {other}")

    def _publish(
        self,
        method: str,
        params: _Params,
        target: _Target,
        content: dict[str, Any],
        *,
        text: str | None = None,
        plain: str | None = None,
        caption: str | None = None,
        plain_caption: str | None = None,
        media: _Media | None = None,
    ) -> dict[str, Any]:
        """Pace, store and record a bot message; return the ``Message`` Telegram would."""
        self._check_flood(target.chat)
        message = self._new_message(target.chat, self._bot_user, target.thread_id, target.reply_to, content)
        sent = SentMessage(
            method=method,
            chat_id=target.chat.id,
            message_id=message["message_id"],
            time=time.monotonic(),
            parse_mode=params.text("parse_mode"),
            text=text,
            plain=plain,
            caption=caption,
            plain_caption=plain_caption,
            media_kind=media.kind if media else None,
            media_bytes=media.data if media else None,
            file_name=media.file_name if media else None,
            media_url=media.url if media else None,
            thread_id=target.thread_id,
            reply_to=target.reply_to,
        )
        self.sent.append(sent)
        if self._on_post is not None:
            self._on_post(sent)
        return message

    async def _send_message(self, params: _Params) -> dict[str, Any]:
        # In Client::process_send_message_query's order: the text is read before the chat is looked up.
        text = params.text("text") or ""
        if not text:
            raise _bad("message text is empty")
        plain = _plain_text(text, params.text("parse_mode"))
        target = self._target(params)
        if not plain.strip():  # TDLib's fix_formatted_text: "Text must be non-empty"
            raise _bad("text must be non-empty")
        if len(plain.strip()) > MAX_TEXT_CHARS:
            raise _bad("message is too long")
        self._admit(target, "text")
        return self._publish("sendMessage", params, target, {"text": plain}, text=text, plain=plain)

    async def _send_media(self, method: str, kind: MediaKind, params: _Params) -> dict[str, Any]:
        caption = params.text("caption") or None
        plain_caption = _plain_text(caption, params.text("parse_mode")) if caption else None
        target = self._target(params)
        if plain_caption is not None and len(plain_caption.strip()) > MAX_CAPTION_CHARS:
            raise _bad("message caption is too long")
        self._admit(target, kind)
        media = await self._media(kind, params)
        shown = {"caption": plain_caption} if plain_caption and plain_caption.strip() else {}
        content = self._media_json(media) | shown
        return self._publish(method, params, target, content, caption=caption, plain_caption=plain_caption, media=media)

    async def _send_photo(self, params: _Params) -> dict[str, Any]:
        return await self._send_media("sendPhoto", "photo", params)

    async def _send_document(self, params: _Params) -> dict[str, Any]:
        return await self._send_media("sendDocument", "document", params)

    async def _send_video(self, params: _Params) -> dict[str, Any]:
        return await self._send_media("sendVideo", "video", params)

    @staticmethod
    def _check_pin_right(chat: FakeChat) -> None:
        """TDLib's ``DialogManager::can_pin_messages``; in a private chat the bot may always pin."""
        if chat.type != "private" and not chat.bot_may("can_pin_messages"):
            raise _bad("not enough rights to manage pinned messages in the chat")

    async def _edit_message_text(self, params: _Params) -> dict[str, Any]:
        """Edit a bot message's text; the edited text (plain) is kept in :attr:`edits` as well."""
        text = params.text("text") or ""
        if not text:
            raise _bad("message text is empty")
        plain = _plain_text(text, params.text("parse_mode"))
        chat = self._chat(params)
        message = chat.messages.get(params.integer("message_id") or 0)
        if message is None:
            raise _bad("message to edit not found")
        if message.get("from", {}).get("id") != self._bot_user["id"] or "text" not in message:
            raise _bad("message can't be edited")
        if message["text"] == plain:
            raise _bad(
                "message is not modified: specified new message content and reply markup are exactly the same "
                "as a current content and reply markup of the message"
            )
        self._check_flood(chat)  # edits count against the chat's pace like posts
        message |= {"text": plain, "edit_date": int(time.time())}
        self.edits.append((chat.id, message["message_id"], plain))
        return message

    async def _set_message_reaction(self, params: _Params) -> bool:
        """Bots may set one reaction from Telegram's fixed emoji list (ReactionTypeEmoji in the Bot API docs)."""
        chat = self._chat(params)
        message_id = params.integer("message_id")
        if message_id not in chat.messages:
            raise _bad("MESSAGE_ID_INVALID")
        reaction = params.json("reaction") or []
        if not isinstance(reaction, list) or len(reaction) > 1:
            raise _bad("REACTIONS_TOO_MANY")
        emoji = [r.get("emoji") for r in reaction if isinstance(r, dict) and r.get("type") == "emoji"]
        if len(emoji) != len(reaction) or any(e not in REACTION_EMOJI for e in emoji):
            raise _bad("REACTION_INVALID")
        self.reactions[(chat.id, message_id)] = [str(e) for e in emoji]
        return True

    async def _pin_chat_message(self, params: _Params) -> bool:
        chat = self._chat(params)
        message_id = params.integer("message_id")
        if message_id not in chat.messages:
            raise _bad("message to pin not found")
        self._check_pin_right(chat)
        if message_id in chat.pinned:
            chat.pinned.remove(message_id)
        chat.pinned.append(message_id)
        return True

    async def _unpin_chat_message(self, params: _Params) -> bool:
        chat = self._chat(params)
        message_id = params.integer("message_id") or (chat.pinned[-1] if chat.pinned else None)
        if message_id not in chat.pinned:
            raise _bad("message to unpin not found")
        self._check_pin_right(chat)
        chat.pinned.remove(message_id)
        return True
