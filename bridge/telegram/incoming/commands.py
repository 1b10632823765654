"""Commands declared once: each handler with its name, arguments and help line, from which the routers,
/help, Telegram's command menu and every usage text are made."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import BotCommand

Handler = Callable[..., Awaitable[None]]
H = TypeVar("H", bound=Handler)


@dataclass(frozen=True)
class CommandSpec:
    """A bot command: its name, its arguments as a user types them, its help line, its handler."""

    name: str
    args: str
    help: str
    handler: Handler

    @property
    def usage(self) -> str:
        """``/name ARGS`` as a user types it."""
        return f"/{self.name} {self.args}".rstrip()


class Commands:
    """A feature's commands: ``@commands.command(...)`` on each handler, then :meth:`router`."""

    def __init__(self, feature: str) -> None:
        self.feature = feature
        self._specs: dict[str, CommandSpec] = {}

    def command(self, name: str, args: str, help: str) -> Callable[[H], H]:
        """Declare ``name`` handled by the decorated function, with its arguments and help line."""

        def declare(handler: H) -> H:
            self._specs[name] = CommandSpec(name, args, help, handler)
            return handler

        return declare

    def __getitem__(self, name: str) -> CommandSpec:
        return self._specs[name]

    @property
    def specs(self) -> list[CommandSpec]:
        """Every command of the feature, in declaration order."""
        return list(self._specs.values())

    def router(self, *extra: tuple[Handler, Any]) -> Router:
        """A fresh router (routers attach to one dispatcher only) with every command, then ``extra`` handlers."""
        router = Router(name=self.feature)
        for spec in self._specs.values():
            router.message.register(spec.handler, Command(spec.name))
        for handler, event_filter in extra:
            router.message.register(handler, event_filter)
        return router


def help_text(specs: Iterable[CommandSpec]) -> str:
    """The /help answer (HTML)."""
    lines = [
        "I forward Bybit P2P order chats here: every message, once, with who sent it.",
        "",
        *(f"<code>{spec.usage}</code> — {spec.help}" for spec in specs),
    ]
    return "\n".join(lines)


def menu(specs: Iterable[CommandSpec]) -> list[BotCommand]:
    """The commands for ``setMyCommands``."""
    return [BotCommand(command=spec.name, description=spec.help) for spec in specs]
