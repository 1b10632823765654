"""The dispatcher: the command menu is exactly the registered commands, and handlers ask only for typed dependencies."""

from __future__ import annotations

import typing
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiogram import Bot, Dispatcher
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.filters import Command, CommandObject
from aiogram.types import ChatMemberUpdated, Message

from bridge.bybit import ApiName, BybitClient, ChatSource
from bridge.core import Listing, PollStats, Watchlist
from bridge.store import Store
from bridge.telegram.incoming import COMMANDS, HELP_TEXT, Dependencies, Health, ReplyPolicy, create_dispatcher
from bridge.telegram.incoming.commands import menu
from bridge.telegram.outgoing import CallStats

FROM_AIOGRAM = {"command": CommandObject, "bot": Bot}
"""What aiogram itself hands a handler, beside the event and our dependencies."""


async def _remember(name: ApiName) -> None:
    del name


@pytest.fixture
async def dispatcher(tmp_path: Path) -> AsyncIterator[Dispatcher]:
    async with (
        await Store.open(tmp_path / "d.db") as store,
        BybitClient(api_key="k", api_secret="s", base_url="http://127.0.0.1:9") as client,
    ):
        dependencies = Dependencies(
            store=store,
            watchlist=Watchlist(store, client, Listing(fresh=60)),
            health=Health(poll=PollStats(), telegram=CallStats(), bybit=client.stats),
            chat_source=ChatSource(client, mode="auto", current="order", on_switch=_remember),
            backfill_limit=20,
            bot_username="p2p_bridge_bot",
            help_text=HELP_TEXT,
            replies=ReplyPolicy(enabled=True, allowed=frozenset()),
        )
        yield create_dispatcher(frozenset({-100}), store, dependencies)


def handlers(dispatcher: Dispatcher) -> Iterator[HandlerObject]:
    for router in dispatcher.chain_tail:
        yield from router.message.handlers
        yield from router.my_chat_member.handlers


def test_the_menu_is_exactly_the_registered_commands(dispatcher: Dispatcher) -> None:
    registered = [
        typing.cast(str, name)  # aiogram allows patterns; every command here is a plain name
        for handler in handlers(dispatcher)
        for event_filter in handler.filters or []
        if isinstance(event_filter.callback, Command)
        for name in event_filter.callback.commands
    ]
    assert sorted(registered) == sorted(command.command for command in menu(COMMANDS))
    assert len(registered) == len(set(registered))
    for spec in COMMANDS:
        assert f"<code>{spec.usage}</code> — {spec.help}" in HELP_TEXT


def test_every_handler_asks_only_for_typed_dependencies(dispatcher: Dispatcher) -> None:
    provided = typing.get_type_hints(Dependencies) | FROM_AIOGRAM
    for handler in handlers(dispatcher):
        hints = typing.get_type_hints(handler.callback)
        hints.pop("return", None)
        event, *wanted = hints
        assert hints[event] in (Message, ChatMemberUpdated)
        for name in wanted:
            assert name in provided, f"{handler.callback.__name__} asks for {name}, which nobody provides"
            assert hints[name] == provided[name], f"{handler.callback.__name__}: {name} is {provided[name]}"
