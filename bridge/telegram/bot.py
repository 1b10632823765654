"""Building the aiogram Bot and Dispatcher, and publishing the command menu."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.types import BotCommandScopeAllGroupChats, BotCommandScopeAllPrivateChats

from bridge.store import Store
from bridge.telegram import general, membership, watching
from bridge.telegram.access import ServedChatsOnly
from bridge.telegram.commands import menu


def create_bot(token: str, api_url: str, timeout: float) -> Bot:
    """A Bot speaking HTML to ``api_url`` (api.telegram.org, a local Bot API server, or the sandbox).

    ``timeout`` bounds each call; getUpdates long polls add their own timeout on top.
    """
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url.rstrip("/")), timeout=timeout)
    defaults = DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True)
    return Bot(token, session=session, default=defaults)


def create_dispatcher(served_chats: frozenset[int], store: Store, **dependencies: Any) -> Dispatcher:
    """One router per feature behind the access check; ``store`` and ``dependencies`` reach handlers by name."""
    dispatcher = Dispatcher(store=store, **dependencies)
    access = ServedChatsOnly(served_chats, store)
    dispatcher.message.outer_middleware(access)
    dispatcher.my_chat_member.outer_middleware(access)
    dispatcher.include_routers(watching.create_router(), membership.create_router(), general.create_router())
    return dispatcher


async def publish_commands(bot: Bot) -> None:
    """Fill Telegram's command menu for private chats and groups."""
    for scope in (BotCommandScopeAllPrivateChats(), BotCommandScopeAllGroupChats()):
        await bot.set_my_commands(menu(), scope=scope)
