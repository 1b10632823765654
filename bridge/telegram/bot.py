"""The aiogram Bot the bridge talks to Telegram with, in and out."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import ClientDecodeError, TelegramServerError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType


class _Session(AiohttpSession):
    """aiogram's session, but a 5xx that is not Telegram's JSON (a proxy's error page) is a server error too, and the
    class each answer is parsed as (``Response[<type>]``) is built once: pydantic keeps it only weakly, so it was
    built anew (some 4 ms of CPU) after each garbage collection."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._answers: dict[object, type[Response[Any]]] = {}

    def check_response(
        self, bot: Bot, method: TelegramMethod[TelegramType], status_code: int, content: str
    ) -> Response[TelegramType]:
        returning = method.__returning__
        if returning not in self._answers:
            self._answers[returning] = Response[returning]  # type: ignore[valid-type]
        try:
            return super().check_response(bot, method, status_code, content)
        except ClientDecodeError:
            if status_code < HTTPStatus.INTERNAL_SERVER_ERROR:
                raise
            raise TelegramServerError(method, f"HTTP {status_code}, not from Telegram (a proxy?)") from None


def create_bot(token: str, api_url: str, timeout: float) -> Bot:
    """A Bot speaking HTML to ``api_url`` (api.telegram.org, a local Bot API server, or the sandbox).

    ``timeout`` bounds each call; getUpdates long polls add their own timeout on top.
    """
    session = _Session(api=TelegramAPIServer.from_base(api_url.rstrip("/")), timeout=timeout)
    defaults = DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True)
    return Bot(token, session=session, default=defaults)
