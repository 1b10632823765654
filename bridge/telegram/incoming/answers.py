"""Answering a command: its HTML in as many replies as Telegram's length limit needs, split between lines."""

from __future__ import annotations

from aiogram.types import Message

from bridge.telegram.outgoing.render import split_lines


async def answer(message: Message, text: str) -> None:
    """Reply to ``message`` with ``text`` (HTML, each line whole), in parts of at most 4,096 characters."""
    for part in split_lines(text):
        await message.reply(part)
