"""The fake Telegram's HTTP face: routing ``/bot<token>/<method>`` and file downloads, injected faults and delays."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from bridge.sandbox.fake_telegram._membership import _Membership
from bridge.sandbox.fake_telegram._messages import _Messages
from bridge.sandbox.fake_telegram._params import _ApiError, _Params, _read_params, _reset, _retry_after
from bridge.sandbox.fake_telegram._topics import _Topics
from bridge.sandbox.fake_telegram._updates import _Updates
from bridge.sandbox.fake_telegram._users import _Users
from bridge.sandbox.fake_telegram._world import SentMessage

_SEND_METHODS = frozenset({"sendmessage", "sendphoto", "senddocument", "sendvideo"})
_API_PATH = re.compile(r"/bot([^/]+)/([A-Za-z]+)")
_FILE_PATH = re.compile(r"/file/bot([^/]+)/(.+)")


@dataclass(frozen=True)
class RecordedCall:
    """One API call: its method name and its non-file parameters as received."""

    method: str
    params: dict[str, Any]
    time: float


@dataclass
class _Plan:
    """Something to do to the next ``remaining`` calls of ``method`` (``None``: the send methods)."""

    method: str | None
    remaining: int
    after: int = field(default=0, kw_only=True)
    """How many matching calls pass untouched first."""

    def aims_at(self, method: str) -> bool:
        return method.lower() in _SEND_METHODS if self.method is None else self.method.lower() == method.lower()


@dataclass
class _Fault(_Plan):
    """Refuse the call."""

    status: int
    description: str
    retry_after: int | None = None
    page: bool = False
    """Answer with an HTML page (as a proxy in the way does), not Telegram's JSON."""
    taken: bool = False
    """Carry the call out first: only its answer is lost on the way back."""
    reset: bool = False
    """No answer at all: the connection is reset."""


@dataclass
class _Delay(_Plan):
    """Do the call, then hold its answer back ``seconds``."""

    seconds: float


_PlanT = TypeVar("_PlanT", bound=_Plan)


def _take(plans: list[_PlanT], method: str) -> _PlanT | None:
    """The first plan aimed at ``method``, counted as used once."""
    for plan in plans:
        if plan.aims_at(method):
            if plan.after:
                plan.after -= 1
                continue
            plan.remaining -= 1
            if plan.remaining <= 0:
                plans.remove(plan)
            return plan
    return None


class FakeTelegram(_Users, _Membership, _Topics, _Messages, _Updates):
    """Imitates ``api.telegram.org`` for one bot: ``/bot<token>/<method>`` over GET or POST."""

    def __init__(
        self,
        *,
        token: str = "123456:SANDBOX-TOKEN",
        bot_username: str = "p2p_bridge_bot",
        bot_id: int = 123456,
        on_post: Callable[[SentMessage], None] | None = None,
        enforce_flood_limits: bool = False,
        flood_scale: int = 1,
    ) -> None:
        super().__init__(
            token=token,
            bot_username=bot_username,
            bot_id=bot_id,
            on_post=on_post,
            enforce_flood_limits=enforce_flood_limits,
            flood_scale=flood_scale,
        )
        self.requests: list[RecordedCall] = []
        """Every authorised call to a known method, in order."""
        self._faults: list[_Fault] = []
        self._delays: list[_Delay] = []
        self._methods: dict[str, Callable[[_Params], Awaitable[Any]]] = {
            "getme": self._get_me,
            "getfile": self._get_file,
            "deletewebhook": self._delete_webhook,
            "getupdates": self._get_updates,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "senddocument": self._send_document,
            "sendvideo": self._send_video,
            "pinchatmessage": self._pin_chat_message,
            "setmessagereaction": self._set_message_reaction,
            "editmessagetext": self._edit_message_text,
            "unpinchatmessage": self._unpin_chat_message,
            "getchat": self._get_chat,
            "getchatmember": self._get_chat_member,
            "getchatadministrators": self._get_chat_administrators,
            "createforumtopic": self._create_forum_topic,
            "editforumtopic": self._edit_forum_topic,
            "closeforumtopic": self._close_forum_topic,
            "reopenforumtopic": self._reopen_forum_topic,
            "deleteforumtopic": self._delete_forum_topic,
        }

    # -- control API -------------------------------------------------------------------------------

    def inject_retry_after(self, times: int = 1, retry_after: int = 1, method: str | None = None) -> None:
        """Answer the next ``times`` send calls (or calls to ``method``) with 429 and ``retry_after``."""
        description = _retry_after(retry_after).description
        self._faults.append(_Fault(method, times, 429, description, retry_after))

    def inject_error(
        self,
        status: int,
        description: str,
        times: int = 1,
        method: str | None = None,
        *,
        after: int = 0,
        page: bool = False,
        taken: bool = False,
    ) -> None:
        """Answer the next ``times`` send calls (or calls to ``method``) with ``status`` and ``description``.

        E.g. ``inject_error(400, "Bad Request: can't parse entities: …", times=3)`` refuses the next three sends
        whatever their content, as a parse error would. ``after`` lets that many matching calls pass first.
        ``page`` answers with ``description`` as an HTML page instead of Telegram's JSON, as a proxy does;
        ``taken`` carries each call out first (a proxy's 502 after Telegram took the post).
        """
        self._faults.append(_Fault(method, times, status, description, after=after, page=page, taken=taken))

    def inject_reset(self, times: int = 1, method: str | None = None, *, after: int = 0, taken: bool = True) -> None:
        """Reset the connection of the next ``times`` send calls (or calls to ``method``) instead of answering.

        With ``taken`` (the default) each call is carried out first, as when the answer is lost on its way back.
        """
        self._faults.append(_Fault(method, times, 0, "connection reset", after=after, taken=taken, reset=True))

    def inject_slow_response(
        self, seconds: float, times: int = 1, method: str | None = None, *, after: int = 0
    ) -> None:
        """Carry out the next ``times`` send calls (or calls to ``method``) but answer each ``seconds`` late.

        The post is stored and recorded in :attr:`sent` at once, as Telegram takes it; a client whose timeout is
        shorter sees a timeout for a message that was delivered. :meth:`stop` cuts the wait short. ``after`` lets
        that many matching calls pass first.
        """
        self._delays.append(_Delay(method, times, seconds, after=after))

    def _fault_error(self, fault: _Fault) -> _ApiError:
        if fault.retry_after is not None:
            self.flood_errors += 1
            return _retry_after(fault.retry_after)
        return _ApiError(fault.status, fault.description, page=fault.page)

    # -- HTTP --------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if (download := _FILE_PATH.fullmatch(request.path)) is not None:
            return self._download(*download.groups())
        match = _API_PATH.fullmatch(request.path)
        if match is None:
            return _ApiError(404, "Not Found").response()
        token, method = match.groups()
        if token != self._token:
            return _ApiError(401, "Unauthorized").response()
        handler = self._methods.get(method.lower())
        if handler is None:
            return _ApiError(404, "Not Found").response()
        delay = _take(self._delays, method)
        try:
            params = await _read_params(request)
            self.requests.append(RecordedCall(method, params.values, time.monotonic()))
            fault = _take(self._faults, method)
            result = await handler(params) if fault is None or fault.taken else None
            if fault is not None:  # refused, or (taken) carried out and its answer lost on the way back
                if fault.reset:
                    return _reset(request)
                raise self._fault_error(fault)
            response = web.json_response({"ok": True, "result": result})
        except _ApiError as exc:
            response = exc.response()
        if delay is not None:
            await self._wait_until(lambda: False, delay.seconds)
        return response

    def _download(self, token: str, file_path: str) -> web.Response:
        """A file's bytes at ``/file/bot<token>/<file_path>``, for a path getFile gave out."""
        file_id = next((key for key, path in self._file_paths.items() if path == file_path), None)
        if token != self._token or file_id is None:
            return _ApiError(404, "Not Found").response()
        media = self._files[file_id]
        return web.Response(body=media.data, content_type=media.mime_type)
