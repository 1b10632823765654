"""Router for /help, /start, /status, /retry and commands the bot does not know."""

from __future__ import annotations

import html

from aiogram import F
from aiogram.types import Message

from bridge.bybit.chat import ChatSource
from bridge.store import Store
from bridge.telegram.incoming.answers import answer
from bridge.telegram.incoming.commands import Commands
from bridge.telegram.incoming.status import Health, status_report

commands = Commands("general")


@commands.command("status", "", "is everything flowing? polls, sends, errors, queue")
async def status(message: Message, health: Health, store: Store, chat_source: ChatSource) -> None:
    """/status"""
    await answer(message, await status_report(health, store, message.chat.id, chat_source.current))


@commands.command("retry", "", "send again the messages Telegram refused (dead-lettered)")
async def retry(message: Message, store: Store) -> None:
    """/retry"""
    count = await store.messages.retry_dead(message.chat.id)
    if count:
        await answer(message, f"🔁 Sending {count} dead-lettered message(s) again.")
    else:
        await answer(message, "Nothing to retry: no message of this chat was refused for good.")


@commands.command("help", "", "what this bot does and its commands")
async def help_(message: Message, help_text: str) -> None:
    """/help"""
    await answer(message, help_text)


@commands.command("start", "", "introduction")
async def start(message: Message, help_text: str) -> None:
    """/start"""
    await answer(message, help_text)


async def unknown_command(message: Message, bot_username: str) -> None:
    """Any other command meant for this bot (``/cmd`` or ``/cmd@ThisBot``) gets a pointer to /help."""
    command = (message.text or "").split(maxsplit=1)[0]
    name, _, mention = command.partition("@")
    if mention and mention.lower() != bot_username.lower():
        return  # addressed to another bot in the group
    await answer(message, f"Unknown command {html.escape(name)}. Send /help for the list.")


UNKNOWN_COMMAND = (unknown_command, F.text.startswith("/"))
"""Registered after every feature's commands, so it only sees the rest."""
