"""The Dispatcher: one router per feature behind the access check, and the command menu they make."""

from __future__ import annotations

from aiogram import Bot, Dispatcher
from aiogram.types import BotCommandScopeAllGroupChats, BotCommandScopeAllPrivateChats

from bridge.store import Store
from bridge.telegram.incoming import general, membership, replies, watching
from bridge.telegram.incoming.access import ServedChatsOnly
from bridge.telegram.incoming.commands import CommandSpec, help_text, menu
from bridge.telegram.incoming.dependencies import Dependencies

COMMANDS: tuple[CommandSpec, ...] = (*watching.commands.specs, *replies.commands.specs, *general.commands.specs)
"""Every command, in the order /help and the menu show them."""
HELP_TEXT = help_text(COMMANDS)


def create_dispatcher(served_chats: frozenset[int], store: Store, dependencies: Dependencies) -> Dispatcher:
    """Routers for every feature; ``dependencies`` reach handlers by parameter name."""
    dispatcher = Dispatcher(**dependencies)
    access = ServedChatsOnly(served_chats, store)
    dispatcher.message.outer_middleware(access)
    dispatcher.my_chat_member.outer_middleware(access)
    dispatcher.include_routers(
        watching.commands.router(),
        replies.commands.router(*replies.TEAM_REPLIES),
        membership.create_router(),
        general.commands.router(general.UNKNOWN_COMMAND),
    )
    return dispatcher


async def publish_commands(bot: Bot) -> None:
    """Fill Telegram's command menu for private chats and groups."""
    for scope in (BotCommandScopeAllPrivateChats(), BotCommandScopeAllGroupChats()):
        await bot.set_my_commands(menu(COMMANDS), scope=scope)
