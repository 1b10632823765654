"""``p2p-bridge demo``: the real bridge between the sandbox's fake Bybit and fake Telegram, in a terminal."""

from __future__ import annotations

import asyncio
import contextlib
import struct
import sys
import tempfile
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bridge.app import run_bridge
from bridge.sandbox.fake_bybit import FakeBybit, FakeOrder
from bridge.sandbox.fake_telegram import FakeTelegram, SentMessage
from bridge.sandbox.settings import sandbox_settings

TEAM_CHAT = -1001234567890
STEP = 2.0  # seconds between two scripted events


def receipt_png(width: int = 64, height: int = 40) -> bytes:
    """A small, valid PNG (a green bank-receipt stand-in)."""
    row = b"\x00" + b"\x2e\xa0\x4c" * width
    raw = zlib.compress(row * height)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


class Terminal:
    """Prints what the bot posts to the fake team chat, with the forum topic it went to."""

    def __init__(self) -> None:
        self.telegram: FakeTelegram | None = None

    def __call__(self, post: SentMessage) -> None:
        body = post.plain or post.plain_caption or ""
        size = len(post.media_bytes or b"")
        media = f" [{post.media_kind}: {post.file_name}, {size} bytes]" if post.media_kind else ""
        where = "team chat"
        if self.telegram is not None and post.thread_id is not None:
            topic = self.telegram.chats[post.chat_id].topics.get(post.thread_id)
            where = f"topic «{topic.name}»" if topic else where
        print(f"\n🤖 bot → {where}{media}\n   " + body.replace("\n", "\n   "), flush=True)


def narrate(text: str) -> None:
    """Print a line of the script."""
    print(f"\n── {text}", flush=True)


async def run_demo(stop: asyncio.Event, **overrides: Any) -> None:
    """Play a buyer's conversation through the real bridge; ends by itself or on Ctrl-C.

    ``overrides`` are bridge settings the user's own apply to (the metrics endpoint).
    """
    terminal = Terminal()
    async with FakeBybit() as bybit, FakeTelegram(on_post=terminal) as telegram:
        terminal.telegram = telegram
        telegram.add_chat(TEAM_CHAT, type="supergroup", title="Merchant team", is_forum=True)
        bybit.retire_order_chat()  # as on Bybit today: the session chat is the live path
        order = bybit.add_order(side=1, counterparty_nick="BuyerBob", quantity="150", price="92.40", currency="RUB")
        order.create_ms -= 60_000
        bybit.post_message(order.id, "Order created. Buyer pays within 15 minutes.", sender="system")
        bybit.post_message(order.id, "Hi! Paying now via Sberbank.")
        with tempfile.TemporaryDirectory() as workdir:
            settings = sandbox_settings(
                bybit, telegram, TEAM_CHAT, Path(workdir) / "demo.db", **{"poll_interval": 1.0, **overrides}
            )
            bridge_stop = asyncio.Event()
            bridge = asyncio.create_task(run_bridge(settings, bridge_stop))
            script: list[tuple[str, Callable[[], object]]] = [
                (
                    f"Alice (team) types in the group: /watch {order.id}",
                    lambda: telegram.user_says(TEAM_CHAT, f"/watch {order.id}", first_name="Alice"),
                ),
                (
                    "The buyer writes on Bybit: 'Done, I paid 13 860 RUB'",
                    lambda: bybit.post_message(order.id, "Done, I paid 13 860 RUB <Sberbank>"),
                ),
                (
                    "The buyer sends a receipt photo",
                    lambda: bybit.post_media(order.id, "pic", receipt_png(), "receipt.png"),
                ),
                (
                    "Bybit notes the payment",
                    lambda: bybit.post_message(
                        order.id, "The buyer has marked the order as paid. Please confirm receipt.", sender="system"
                    ),
                ),
                (
                    "You answer from the Bybit app",
                    lambda: bybit.post_message(order.id, "Thanks, checking the bank now.", sender="self"),
                ),
                (
                    "The buyer asks: 'Please release the coins 🙏'",
                    lambda: bybit.post_message(order.id, "Please release the coins 🙏"),
                ),
                (
                    "Alice answers from Telegram, replying to the buyer's message: 'Received, releasing now'",
                    lambda: telegram.user_says(
                        TEAM_CHAT,
                        "Received, releasing now",
                        first_name="Alice",
                        reply_to_message_id=_last_post_with(telegram, "Please release"),
                    ),
                ),
                (
                    "The buyer's Bybit chat shows it (once), and Alice's message got a 👍",
                    lambda: print(
                        f"   Bybit chat, from you: {_yours(bybit, order.id)}",
                        f"\n   reactions on the team's messages: {list(telegram.reactions.values())}",
                        flush=True,
                    ),
                ),
                (
                    "Bybit completes the order",
                    lambda: _complete(bybit, order),
                ),
                (
                    "The buyer opens a second order nobody watches, and writes about it in the same chat",
                    lambda: bybit.post_message(
                        bybit.add_order(side=1, counterparty_nick="BuyerBob", quantity="40", price="92.40").id,
                        "Opened one more order for 40 USDT, same card",
                    ),
                ),
            ]
            try:
                print(f"p2p-bridge demo: fake Bybit at {bybit.url}, fake Telegram at {telegram.url}", flush=True)
                for text, action in script:
                    if await _wait(stop, bridge, STEP):
                        break
                    narrate(text)
                    action()
                await _wait(stop, bridge, STEP * 2)
            finally:
                bridge_stop.set()
                with contextlib.suppress(asyncio.CancelledError):
                    await bridge
        narrate("demo over: every message arrived once. Set credentials in .env to bridge your real chats.")


def _last_post_with(telegram: FakeTelegram, needle: str) -> int:
    """The message id of the bot's last post containing ``needle``."""
    return [s.message_id for s in telegram.sent if needle in (s.plain or "")][-1]


def _yours(bybit: FakeBybit, order_id: str) -> list[str]:
    """Your messages in the order's Bybit chat."""
    return [
        str(m["message"])
        for m in bybit.messages(order_id)
        if m.get("roleType") == "user" and m.get("userId") == "10001"
    ]


def _complete(bybit: FakeBybit, order: FakeOrder) -> None:
    order.status = 50
    bybit.post_message(order.id, "The seller has released the coins. The order is completed.", sender="system")


async def _wait(stop: asyncio.Event, bridge: Awaitable[None], seconds: float) -> bool:
    """Sleep ``seconds``; True if the user pressed Ctrl-C or the bridge ended early."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    if isinstance(bridge, asyncio.Task) and bridge.done():
        bridge.result()
        print("the bridge stopped early", file=sys.stderr)
        return True
    return stop.is_set()
