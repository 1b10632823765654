"""The aiogram Bot the bridge talks to Telegram with, in and out."""

from __future__ import annotations

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode


def create_bot(token: str, api_url: str, timeout: float) -> Bot:
    """A Bot speaking HTML to ``api_url`` (api.telegram.org, a local Bot API server, or the sandbox).

    ``timeout`` bounds each call; getUpdates long polls add their own timeout on top.
    """
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url.rstrip("/")), timeout=timeout)
    defaults = DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True)
    return Bot(token, session=session, default=defaults)
