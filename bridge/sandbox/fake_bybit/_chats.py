"""The chat endpoints: the order-scoped chat API, the session chat API that replaces it, and uploads."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any, Final

from bridge.sandbox.fake_bybit._orders import _OrderEndpoints
from bridge.sandbox.fake_bybit._params import (
    _content_type_param,
    _int_param,
    _number_text_param,
    _optional_str,
    _P2PError,
    _page,
    _params_error,
    _str_param,
    _upload_part,
)
from bridge.sandbox.fake_bybit._world import _SESSION_RECORD_BASE, _StoredMessage, _User
from bridge.sandbox.fake_bybit.constants import (
    _MSG_TYPE_BY_CONTENT,
    CODE_CHAT_API_CLOSED,
    CODE_SESSION_NOT_FOUND,
    MAX_SESSION_MESSAGE_CHARS,
    MSG_CHAT_API_CLOSED,
    SESSION_TYPES,
    UPLOAD_TTL_SECONDS,
    UPLOAD_TYPES,
    ListShape,
    MediaKind,
    Retirement,
)

_KIND_BY_UPLOAD_TYPE: Final[dict[str, MediaKind]] = {"IMAGE": "pic", "PDF": "pdf", "VIDEO": "video"}
_COMPACT = (",", ":")


class _ChatEndpoints(_OrderEndpoints):
    """Both chat API generations (order-scoped and session) and the file upload (body → result)."""

    _list_shape: ListShape

    def retire_order_chat(self, how: Retirement = "code") -> None:
        """Retire the order-scoped chat endpoints: 912200387, as Bybit answers since September 2026, or ``how``."""
        self._retired = how

    def _session_user(self, body: Mapping[str, Any]) -> _User:
        session_id = _str_param(body, "sessionId")
        for user in self._counterparties.values():
            if user.session_id == session_id:
                return user
        raise _P2PError(CODE_SESSION_NOT_FOUND, "session does not exist.")

    def _order_messages(self, body: Mapping[str, Any]) -> object:
        """``orderId``, ``size`` ≤ 30 (strings, required), ``currentPage`` (string, default "1")."""
        if self._retired is not None:
            raise _P2PError(CODE_CHAT_API_CLOSED, MSG_CHAT_API_CLOSED)
        order = self._order(body)
        size = _number_text_param(body, "size", high=self._page_size_cap)
        page = _number_text_param(body, "currentPage", default="1")
        held = sorted((s for s in self._log if s.order_id == order.id), key=lambda s: s.number, reverse=True)
        newest_first = [stored.item if stored.raw else self._media.fresh_link(stored.item) for stored in held]
        rows = _page(newest_first, page, size)
        return rows if self._list_shape == "bare" else {"result": rows}

    def _order_send(self, body: Mapping[str, Any]) -> None:
        """``message``, ``contentType``, ``orderId``, ``msgUuid`` (strings, required), ``fileName`` (optional).

        A repeated ``msgUuid`` is accepted but not stored twice.
        """
        if self._retired is not None:
            raise _P2PError(CODE_CHAT_API_CLOSED, MSG_CHAT_API_CLOSED)
        order = self._open_order(body)
        message = _str_param(body, "message")
        msg_uuid = _str_param(body, "msgUuid")
        content_type = _content_type_param(body)
        file_name = _optional_str(body, "fileName")
        media = self._media.sent(content_type, message)
        if any(record.get("msgUuid") == msg_uuid for record in self.messages(order.id)):
            return
        self._store(
            order.id,
            message,
            sender="self",
            msg_type=_MSG_TYPE_BY_CONTENT[content_type],
            content_type=content_type,
            file_name=file_name or (media.file_name if media else ""),
            size=len(media.data) if media else 0,
            msg_uuid=msg_uuid,
        )

    def _session_id(self, body: Mapping[str, Any]) -> dict[str, str]:
        """``userMaskId`` (string, required)."""
        mask_id = _str_param(body, "userMaskId")
        for user in self._counterparties.values():
            if user.mask_id == mask_id:
                return {"sessionId": user.session_id}
        raise _P2PError(CODE_SESSION_NOT_FOUND, "user does not exist.")

    def _sessions(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``lastId`` (≥ 0, 0 = first page), ``size``, ``readStatus`` 0/1/2 (integers, required);
        optional ``type`` SINGLE/GROUP. Newest session first; ``id`` and ``unreadCount`` as strings."""
        last_id = _int_param(body, "lastId", low=0)
        size = _int_param(body, "size", high=self._page_size_cap)
        read_status = _int_param(body, "readStatus", low=0, high=2)
        session_type = _optional_str(body, "type")
        if session_type is not None and session_type not in SESSION_TYPES:
            raise _params_error()
        sessions = []
        for number, user in reversed(list(enumerate(self._counterparties.values(), _SESSION_RECORD_BASE))):
            unread = self._unread(nick=user.nick)
            if session_type == "GROUP" or (last_id and number >= last_id):
                continue
            if (read_status == 0 and not unread) or (read_status == 1 and unread):  # 0 unread, 1 read, 2 all
                continue
            sessions.append(
                self._counted(
                    {
                        "sessionName": user.nick,
                        "sessionId": user.session_id,
                        "type": "SINGLE",
                        "id": str(number),
                        "unreadCount": str(unread),
                    }
                )
            )
        return {"chatSession": sessions[:size]}

    def _session_messages(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``lastId`` (≥ 0, 0 = newest), ``limit`` ≤ 30 (integers), ``sessionId`` (string); all required."""
        last_id = _int_param(body, "lastId", low=0)
        limit = _int_param(body, "limit", high=self._page_size_cap)
        user = self._session_user(body)
        shown = [s for s in self._log if s.nick == user.nick and not (s.raw and s.order_id is not None)]
        older = [s for s in shown if not last_id or s.number < last_id]
        page = sorted(older, key=lambda s: s.number, reverse=True)[:limit]
        return {"messages": [stored.item if stored.raw else self._session_item(stored) for stored in page]}

    def _session_send(self, body: Mapping[str, Any]) -> None:
        """``message`` (≤ 1000 characters), ``contentType``, ``sessionId``, ``orderId``: strings, all required.

        The order must be with the session's counterparty.
        """
        message = _str_param(body, "message", max_chars=MAX_SESSION_MESSAGE_CHARS)
        content_type = _content_type_param(body)
        user = self._session_user(body)
        order = self._open_order(body)
        if order.target_nick != user.nick:
            raise _params_error()
        media = self._media.sent(content_type, message)
        self._store(
            order.id,
            message,
            sender="self",
            msg_type=_MSG_TYPE_BY_CONTENT[content_type],
            content_type=content_type,
            file_name=media.file_name if media else "",
            size=len(media.data) if media else 0,
            msg_uuid="",
        )

    def _upload_file(self, content_type: str, raw: bytes) -> dict[str, Any]:
        """One multipart part ``upload_file`` (a non-empty jpg, jpeg, png, pdf or mp4, by its file name).

        The result as in the docs' example: ``uploadId`` null, ``type`` and a relative URL valid 72 h.
        """
        file_name, _, data = _upload_part(content_type, raw)
        upload_type = UPLOAD_TYPES.get(PurePosixPath(file_name).suffix.lower())
        if upload_type is None or not data:
            raise _params_error()
        name = self._media.keep(_KIND_BY_UPLOAD_TYPE[upload_type], data, file_name)
        return {"uploadId": None, "type": upload_type, "url": self._media.signed_path(name, UPLOAD_TTL_SECONDS)}

    def _session_item(self, stored: _StoredMessage) -> dict[str, Any]:
        """A made message as ``listpage_v1`` shows it: ``message`` a compact JSON string whose
        ``msgCode``/``msgType``/``size`` are strings, as in the docs' example ("" size for text)."""
        record = self._media.fresh_link(stored.item)
        content = {
            "content": record["message"],
            "msgCode": str(record["msgCode"]),
            "msgType": str(record["msgType"]),
            "fileName": record["fileName"],
            "size": str(stored.size) if stored.size else "",
        }
        return {
            "id": record["id"],
            "sendUserNickName": record["nickName"] if record["roleType"] == "user" else "SYSTEM",
            "contentType": record["contentType"],
            "message": json.dumps(content, ensure_ascii=False, separators=_COMPACT),
            "createDate": record["createDate"],
        }
