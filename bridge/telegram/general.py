"""Router for /start, /help, /status, /retry and commands the bot does not know."""

from __future__ import annotations

import html

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import Message

from bridge.bybit.chat import ChatSource
from bridge.status import Health, status_report
from bridge.store import Store
from bridge.telegram.commands import help_text


async def start(message: Message) -> None:
    """/start and /help"""
    await message.reply(help_text())


async def status(message: Message, health: Health, store: Store, chat_source: ChatSource) -> None:
    """/status"""
    await message.reply(await status_report(health, store, message.chat.id, chat_source.current))


async def retry(message: Message, store: Store) -> None:
    """/retry"""
    count = await store.retry_dead(message.chat.id)
    if count:
        await message.reply(f"🔁 Sending {count} dead-lettered message(s) again.")
    else:
        await message.reply("Nothing to retry: no message of this chat was refused for good.")


async def unknown_command(message: Message, bot_username: str) -> None:
    """Any other command meant for this bot (``/cmd`` or ``/cmd@ThisBot``) gets a pointer to /help."""
    command = (message.text or "").split(maxsplit=1)[0]
    name, _, mention = command.partition("@")
    if mention and mention.lower() != bot_username.lower():
        return  # addressed to another bot in the group
    await message.reply(f"Unknown command {html.escape(name)}. Send /help for the list.")


def create_router() -> Router:
    """A fresh router (routers attach to one dispatcher only)."""
    router = Router(name="general")
    router.message.register(start, Command("start", "help"))
    router.message.register(status, Command("status"))
    router.message.register(retry, Command("retry"))
    router.message.register(unknown_command, F.text.startswith("/"))
    return router
