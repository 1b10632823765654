"""The bot's commands in the team chat, bad input, and chats the bridge does not serve."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from tests.harness import OTHER_CHAT, TEAM_CHAT, Harness

ORDER_INFO = "/v5/p2p/order/info"
UNKNOWN_ORDER = "1898976123321229999"


def orders_in_db(db_path: Path) -> list[tuple[str, int]]:
    """(order id, active) of every row in the bridge's orders table."""
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        return [(str(row[0]), int(row[1])) for row in db.execute("SELECT order_id, active FROM orders")]


def order_info_ids(harness: Harness) -> list[str]:
    """The order ids the bridge asked Bybit about."""
    return [
        str(r.body.get("orderId")) for r in harness.bybit.requests if r.path == ORDER_INFO and isinstance(r.body, dict)
    ]


def body_lines(harness: Harness, prefix: str, chat_id: int = TEAM_CHAT) -> list[str]:
    """Lines of every post in a chat that start with ``prefix`` (forwarded message texts)."""
    return [line for text in harness.texts(chat_id) for line in text.splitlines() if line.startswith(prefix)]


async def assert_nothing_watched(harness: Harness) -> None:
    reply = await harness.reply_to("/list")
    assert "No orders are watched here" in reply
    assert orders_in_db(harness.db_path) == []


async def test_watch_without_id_gets_usage_and_changes_nothing(harness: Harness) -> None:
    await harness.start()
    reply = await harness.reply_to("/watch")
    assert "Usage" in reply and "/watch ORDER_ID" in reply
    assert order_info_ids(harness) == []
    await assert_nothing_watched(harness)


async def test_malformed_ids_are_refused_without_asking_bybit(harness: Harness) -> None:
    await harness.start()
    for bad in ("abc123", "12345", "1" * 40, "18989761233212211x0"):
        reply = await harness.reply_to(f"/watch {bad}")
        assert "is not an order id" in reply and bad in reply
    assert order_info_ids(harness) == []
    await assert_nothing_watched(harness)


async def test_order_unknown_to_bybit_names_bybits_reason(harness: Harness) -> None:
    await harness.start()
    reply = await harness.reply_to(f"/watch {UNKNOWN_ORDER}")
    assert UNKNOWN_ORDER in reply
    assert "The order does not exist." in reply and "912100027" in reply
    assert order_info_ids(harness) == [UNKNOWN_ORDER]
    await assert_nothing_watched(harness)


async def test_duplicate_watch_is_answered_and_history_is_not_repeated(harness: Harness) -> None:
    order = harness.bybit.add_order()
    harness.bybit.post_message(order.id, "hist one")
    harness.bybit.post_message(order.id, "hist two")
    await harness.start()
    assert "Watching" in await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("hist two")

    reply = await harness.reply_to(f"/watch {order.id}")
    assert "already watched here" in reply and order.id in reply
    harness.bybit.post_message(order.id, "hist three")  # a later message proves polling went on
    await harness.wait_text("hist three")
    assert body_lines(harness, "hist ") == ["hist one", "hist two", "hist three"]
    assert orders_in_db(harness.db_path) == [(order.id, 1)]


async def test_unwatch_of_an_order_not_watched(harness: Harness) -> None:
    order = harness.bybit.add_order()
    await harness.start()
    reply = await harness.reply_to(f"/unwatch {order.id}")
    assert "is not watched in this chat" in reply and order.id in reply
    reply = await harness.reply_to("/unwatch")
    assert "Usage" in reply and "/unwatch [ORDER_ID]" in reply
    await assert_nothing_watched(harness)


async def test_unwatch_stops_forwarding(harness: Harness) -> None:
    bybit = harness.bybit
    first = bybit.add_order(counterparty_nick="Alpha")
    second = bybit.add_order(counterparty_nick="Beta")
    bybit.post_message(first.id, "msg first 1")
    bybit.post_message(second.id, "msg second 1")
    await harness.start()
    await harness.reply_to(f"/watch {first.id}")
    await harness.reply_to(f"/watch {second.id}")
    await harness.wait_text("msg first 1")
    await harness.wait_text("msg second 1")

    reply = await harness.reply_to(f"/unwatch {first.id}")
    assert "Stopped forwarding" in reply and first.id in reply
    bybit.post_message(first.id, "msg first 2 after unwatch")
    bybit.post_message(second.id, "msg second 2")
    await harness.wait_text("msg second 2")
    bybit.post_message(second.id, "msg second 3")  # one more full poll round after the unwatched message
    await harness.wait_text("msg second 3")

    assert body_lines(harness, "msg ") == ["msg first 1", "msg second 1", "msg second 2", "msg second 3"]
    listing = await harness.reply_to("/list")
    assert second.id in listing and first.id not in listing
    assert sorted(orders_in_db(harness.db_path)) == sorted([(first.id, 0), (second.id, 1)])


async def test_list_shows_every_watched_order(harness: Harness) -> None:
    bybit = harness.bybit
    sell = bybit.add_order(side=1, counterparty_nick="BuyerBob", quantity="100", price="92.5")
    buy = bybit.add_order(side=0, counterparty_nick="SellerSue", quantity="50", price="90", currency="EUR")
    await harness.start()
    await assert_nothing_watched(harness)
    await harness.reply_to(f"/watch {sell.id}")
    await harness.reply_to(f"/watch {buy.id}")

    listing = await harness.reply_to("/list")
    assert "Watching 2 order(s)" in listing
    lines = listing.splitlines()
    sell_line = next(line for line in lines if sell.id in line)
    buy_line = next(line for line in lines if buy.id in line)
    assert "you sell 100 USDT for 9250.00 RUB" in sell_line and "BuyerBob" in sell_line
    assert "you buy 50 USDT for 4500.00 EUR" in buy_line and "SellerSue" in buy_line


async def test_unknown_command_points_to_help(harness: Harness) -> None:
    await harness.start()
    reply = await harness.reply_to("/frobnicate now")
    assert "/frobnicate" in reply and "/help" in reply
    reply = await harness.reply_to("/frobnicate@p2p_bridge_bot")
    assert "/help" in reply
    await assert_nothing_watched(harness)


async def test_watch_addressed_to_this_bot_works_and_to_another_bot_is_ignored(harness: Harness) -> None:
    ours = harness.bybit.add_order(counterparty_nick="Alpha")
    theirs = harness.bybit.add_order(counterparty_nick="Beta")
    harness.bybit.post_message(theirs.id, "not for us")
    await harness.start()

    ignored = harness.say(f"/watch@OtherBot {theirs.id}")
    ignored_unknown = harness.say("/frobnicate@OtherBot")
    reply = await harness.reply_to(f"/watch@p2p_bridge_bot {ours.id}")
    assert "Watching" in reply and ours.id in reply

    # The command to this bot was answered after the other bot's ones arrived; they got no answer at all.
    assert not [s for s in harness.telegram.sent if s.reply_to in (ignored, ignored_unknown)]
    assert theirs.id not in order_info_ids(harness)
    listing = await harness.reply_to("/list")
    assert ours.id in listing and theirs.id not in listing
    assert orders_in_db(harness.db_path) == [(ours.id, 1)]
    assert not any("not for us" in t for t in harness.texts())


async def test_watch_with_two_ids(harness: Harness) -> None:
    first = harness.bybit.add_order(counterparty_nick="Alpha")
    second = harness.bybit.add_order(counterparty_nick="Beta")
    harness.bybit.post_message(first.id, "hello from alpha")
    harness.bybit.post_message(second.id, "hello from beta")
    await harness.start()

    reply = await harness.reply_to(f"/watch {first.id} {second.id}")
    lines = [line for line in reply.splitlines() if "Watching" in line]
    assert len(lines) == 2 and first.id in lines[0] and second.id in lines[1]
    await harness.wait_text("hello from alpha")
    await harness.wait_text("hello from beta")
    assert sorted(orders_in_db(harness.db_path)) == sorted([(first.id, 1), (second.id, 1)])
    assert "Watching 2 order(s)" in await harness.reply_to("/list")


async def test_two_ids_one_bad_watches_only_the_good_one(harness: Harness) -> None:
    good = harness.bybit.add_order()
    await harness.start()
    reply = await harness.reply_to(f"/watch {good.id} {UNKNOWN_ORDER} nonsense")
    assert "Watching" in reply and "does not exist" in reply and "is not an order id" in reply
    assert orders_in_db(harness.db_path) == [(good.id, 1)]


async def test_unauthorised_chat_gets_one_short_refusal_and_nothing_else(harness: Harness) -> None:
    order = harness.bybit.add_order()
    harness.bybit.post_message(order.id, "secret order chat")
    await harness.start()

    refusal = await harness.reply_to(f"/watch {order.id}", chat_id=OTHER_CHAT)
    assert str(OTHER_CHAT) in refusal
    assert len(refusal) < 300

    harness.say(f"/watch {order.id}", chat_id=OTHER_CHAT)  # a second command within the minute
    harness.say("/help", chat_id=OTHER_CHAT)
    harness.say("just chatting, not a command", chat_id=OTHER_CHAT)
    # A sentinel in the team chat: answered only after the updates above were handled (or ignored).
    await assert_nothing_watched(harness)

    assert len(harness.telegram.sent_to(OTHER_CHAT)) == 1
    assert order_info_ids(harness) == []
    assert not any("secret order chat" in t for t in harness.texts(TEAM_CHAT) + harness.texts(OTHER_CHAT))


async def test_refused_credentials_are_not_quoted_to_the_chat(harness: Harness) -> None:
    order = harness.bybit.add_order()
    await harness.start(bybit_api_secret="a-wrong-secret-value")
    reply = await harness.reply_to(f"/watch {order.id}")
    assert "the bridge's API credentials were refused (code 10004)" in reply
    assert harness.bybit.api_key not in reply and "origin_string" not in reply
    assert "No orders are watched here" in await harness.reply_to("/list")
