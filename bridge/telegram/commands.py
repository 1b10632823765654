"""The command registry: one entry per command, used for /help and Telegram's command menu."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram.types import BotCommand


@dataclass(frozen=True)
class CommandSpec:
    """A bot command, its arguments and its help line."""

    name: str
    args: str
    help: str

    @property
    def usage(self) -> str:
        """``/name ARGS`` as a user types it."""
        return f"/{self.name} {self.args}".rstrip()


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("watch", "ORDER_ID [ORDER_ID…]", "forward a Bybit P2P order's chat here"),
    CommandSpec("unwatch", "[ORDER_ID]", "stop forwarding an order (in its topic: that order)"),
    CommandSpec("list", "", "orders forwarded to this chat"),
    CommandSpec("status", "", "is everything flowing? polls, sends, errors, queue"),
    CommandSpec("retry", "", "send again the messages Telegram refused (dead-lettered)"),
    CommandSpec("help", "", "what this bot does and its commands"),
    CommandSpec("start", "", "introduction"),
)


def help_text() -> str:
    """The /help answer (HTML)."""
    lines = [
        "I forward Bybit P2P order chats here: every message, once, with who sent it.",
        "",
        *(f"<code>{spec.usage}</code> — {spec.help}" for spec in COMMANDS),
    ]
    return "\n".join(lines)


def menu() -> list[BotCommand]:
    """The commands for ``setMyCommands``."""
    return [BotCommand(command=spec.name, description=spec.help) for spec in COMMANDS]
