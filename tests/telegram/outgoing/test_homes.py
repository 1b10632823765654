"""A Telegram home per order: forum topics, order cards, fallback stream, and Telegram's chat-level faults."""

from __future__ import annotations

import asyncio
import functools
import time
from pathlib import Path

import pytest

from bridge.sandbox.fake_bybit import FakeBybit, FakeOrder
from bridge.sandbox.fake_telegram import FakeTelegram, SentMessage
from tests.harness import TEAM_CHAT, Harness


def in_thread(telegram: FakeTelegram, thread_id: int | None) -> list[SentMessage]:
    return [s for s in telegram.sent if s.chat_id == TEAM_CHAT and s.thread_id == thread_id]


def lines_of(posts: list[SentMessage], prefix: str) -> list[str]:
    return [line for s in posts for line in (s.plain or s.plain_caption or "").splitlines() if line.startswith(prefix)]


def topic_of(telegram: FakeTelegram, order: FakeOrder) -> int:
    [topic] = [t for t in telegram.chats[TEAM_CHAT].topics.values() if order.id[-6:] in t.name]
    return topic.thread_id


async def watch_in_forum(harness: Harness, *orders: FakeOrder) -> None:
    harness.telegram.chats[TEAM_CHAT].is_forum = True
    await harness.start()
    await harness.reply_to("/watch " + " ".join(o.id for o in orders))
    chat = harness.telegram.chats[TEAM_CHAT]
    await harness.telegram.wait_for(lambda: len(chat.topics) == len(orders) and len(chat.pinned) == len(orders))


def shown(harness: Harness, card: SentMessage) -> str:
    """A card as shown last: as posted, or as last edited (a listed order's detail is read after its history)."""
    edits = [text for _, message_id, text in harness.telegram.edits if message_id == card.message_id]
    return edits[-1] if edits else card.plain or ""


def paid_by_sberbank(harness: Harness, card: SentMessage) -> bool:
    """Whether the card shows the payment line now."""
    return "Payment: Sberbank" in shown(harness, card)


async def test_each_order_gets_a_named_topic_with_a_pinned_card(harness: Harness) -> None:
    bob = harness.bybit.add_order(side=1, counterparty_nick="BuyerBob", quantity="100", currency="RUB")
    eve = harness.bybit.add_order(side=0, counterparty_nick="SellerEve", quantity="50", currency="EUR")
    harness.bybit.post_message(bob.id, "bob history")
    await watch_in_forum(harness, bob, eve)
    harness.bybit.post_message(bob.id, "bob new")
    harness.bybit.post_message(eve.id, "eve new")
    await harness.wait_text("bob new")
    await harness.wait_text("eve new")

    topics = harness.telegram.chats[TEAM_CHAT].topics
    names = sorted(t.name for t in topics.values())
    assert any(bob.id[-6:] in n and "SELL 100 USDT" in n and "RUB" in n and "BuyerBob" in n for n in names)
    assert any(eve.id[-6:] in n and "BUY 50 USDT" in n and "EUR" in n and "SellerEve" in n for n in names)
    for order, role, line in ((bob, "Buyer: BuyerBob", "bob"), (eve, "Seller: SellerEve", "eve")):
        posts = in_thread(harness.telegram, topic_of(harness.telegram, order))
        card = posts[0]
        assert "Order …" in (card.plain or "") and role in (card.plain or "")
        await harness.telegram.wait_for(functools.partial(paid_by_sberbank, harness, card))  # (the detail comes later)
        assert card.message_id in harness.telegram.chats[TEAM_CHAT].pinned
        bodies = [line for s in posts[1:] for line in (s.plain or "").splitlines() if " · order …" not in line]
        assert bodies and all(body.startswith(line) for body in bodies)  # each order's messages in its own topic
    assert lines_of(in_thread(harness.telegram, topic_of(harness.telegram, bob)), "bob") == ["bob history", "bob new"]


async def test_unwatch_inside_a_topic_acts_on_its_order(harness: Harness) -> None:
    order = harness.bybit.add_order()
    await watch_in_forum(harness, order)
    topic = topic_of(harness.telegram, order)
    message_id = harness.say("/unwatch", thread_id=topic)
    await harness.telegram.wait_for(lambda: any("Stopped forwarding" in (s.plain or "") for s in harness.telegram.sent))
    assert message_id
    assert "No orders are watched here" in await harness.reply_to("/list")


async def test_ordinary_group_threads_messages_to_the_card(harness: Harness) -> None:
    order = harness.bybit.add_order()
    await harness.start()
    await harness.reply_to(f"/watch {order.id}")
    await harness.telegram.wait_for(lambda: any("Order …" in (s.plain or "") for s in harness.telegram.sent))
    card = next(s for s in harness.telegram.sent if "Order …" in (s.plain or ""))
    harness.bybit.post_message(order.id, "threaded")
    await harness.wait_text("threaded")
    post = next(s for s in harness.telegram.sent if "threaded" in (s.plain or ""))
    assert post.reply_to == card.message_id and post.thread_id is None


async def test_forum_without_topic_rights_falls_back_to_one_stream(harness: Harness) -> None:
    harness.telegram.chats[TEAM_CHAT].is_forum = True
    harness.telegram.inject_error(400, "Bad Request: not enough rights to create a topic", method="createForumTopic")
    order = harness.bybit.add_order()
    await harness.start()
    await harness.reply_to(f"/watch {order.id}")
    harness.bybit.post_message(order.id, "still arrives")
    await harness.wait_text("still arrives")
    post = next(s for s in harness.telegram.sent if "still arrives" in (s.plain or ""))
    card = next(s for s in harness.telegram.sent if "Order …" in (s.plain or ""))
    assert post.reply_to == card.message_id and not harness.telegram.chats[TEAM_CHAT].topics


async def test_deleted_topic_is_recreated_and_nothing_is_lost(harness: Harness) -> None:
    order = harness.bybit.add_order()
    await watch_in_forum(harness, order)
    first = topic_of(harness.telegram, order)
    harness.bybit.post_message(order.id, "before delete")
    await harness.wait_text("before delete")
    harness.telegram.delete_topic(TEAM_CHAT, first)
    harness.bybit.post_message(order.id, "after delete")
    await harness.wait_text("after delete")
    second = topic_of(harness.telegram, order)
    assert second != first
    posts = in_thread(harness.telegram, second)
    assert "Order …" in (posts[0].plain or "") and lines_of(posts, "after") == ["after delete"]


async def test_a_card_that_failed_after_its_topic_was_made_is_posted_in_that_topic_not_a_second_one(
    harness: Harness,
) -> None:
    harness.telegram.chats[TEAM_CHAT].is_forum = True
    order = harness.bybit.add_order()
    harness.bybit.post_message(order.id, "c 01 hello")
    harness.telegram.inject_slow_response(3.0, method="sendMessage")  # the card: no answer in time
    await harness.start(auto_watch=True, telegram_timeout=0.5)  # no /watch: the card is the first post
    await harness.telegram.wait_for(lambda: len(harness.telegram.chats[TEAM_CHAT].topics) == 1)
    await asyncio.sleep(1.0)  # the card timed out; its retry waits 30 s, so restart instead
    await harness.stop()
    await harness.start(auto_watch=True)
    await harness.wait_text("c 01 hello")
    [topic] = harness.telegram.chats[TEAM_CHAT].topics.values()  # still one topic
    assert lines_of(in_thread(harness.telegram, topic.thread_id), "c 01") == ["c 01 hello"]


async def test_a_429_on_a_card_edit_is_waited_out_and_the_chat_goes_on(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    paid, other = harness.bybit.add_order(), harness.bybit.add_order(counterparty_nick="SellerEve")
    await watch_in_forum(harness, paid, other)
    harness.telegram.inject_retry_after(times=1, retry_after=1, method="editMessageText")
    paid.status = 20
    harness.bybit.post_message(paid.id, "The buyer has marked the order as paid.", sender="system")
    harness.bybit.post_message(other.id, "eve 01 meanwhile")
    await harness.telegram.wait_for(
        lambda: any("Status: paid" in text for _, _, text in harness.telegram.edits), timeout=30
    )  # (its card is edited twice now: the detail of a listed order, then the status)
    await harness.wait_text("eve 01 meanwhile")
    assert harness.telegram.flood_errors == 1
    assert "crashed" not in caplog.text  # waited out where it happened, not by the worker dying


async def test_card_edits_wait_between_posts_not_the_posts_behind_every_edit(harness: Harness) -> None:
    """Before: every stale card was edited before the chat's next post, so 200 details read after a /watch held the
    messages for 10 minutes at Telegram's 20 posts a minute."""
    orders = [harness.bybit.add_order(counterparty_nick=f"Buyer{n}") for n in range(6)]
    await watch_in_forum(harness, *orders)
    cards = [s for s in harness.telegram.sent if (s.plain or "").startswith("🧾 Order")]
    await harness.telegram.wait_for(lambda: all(paid_by_sberbank(harness, card) for card in cards), timeout=20)
    harness.telegram.inject_slow_response(3.0, method="sendMessage")  # the chat's worker is busy meanwhile…
    harness.bybit.post_message(orders[0].id, "busy 01")
    await harness.telegram.wait_for(lambda: any("busy 01" in (s.plain or "") for s in harness.telegram.sent))
    began = len(harness.telegram.requests)
    for order in orders:  # …while every order is paid: six cards to edit, six alerts to post
        order.status = 20
        harness.bybit.post_message(order.id, "The buyer has marked the order as paid.", sender="system")
    await harness.telegram.wait_for(lambda: sum("Status: paid" in t for _, _, t in harness.telegram.edits) == 6)
    calls = [c.method for c in harness.telegram.requests[began:] if c.method in ("sendMessage", "editMessageText")]
    assert calls.index("sendMessage") < len(calls) - 1 - calls[::-1].index("editMessageText"), calls


async def test_group_upgraded_to_supergroup_is_followed(harness: Harness) -> None:
    new_id = -1009999999999
    harness.telegram.chats[TEAM_CHAT].type = "group"
    order = harness.bybit.add_order()
    await harness.start()
    await harness.reply_to(f"/watch {order.id}")
    await harness.telegram.wait_for(lambda: any("Order …" in (s.plain or "") for s in harness.telegram.sent))
    harness.telegram.migrate_chat(TEAM_CHAT, new_id)
    harness.bybit.post_message(order.id, "after migration")
    await harness.wait_text("after migration", chat_id=new_id)
    assert "Watching 1 order" in await harness.reply_to("/list", chat_id=new_id)


async def test_removed_bot_holds_messages_and_resumes_when_back(harness: Harness) -> None:
    order = harness.bybit.add_order()
    await harness.start()
    await harness.reply_to(f"/watch {order.id}")
    await harness.telegram.wait_for(lambda: any("Order …" in (s.plain or "") for s in harness.telegram.sent))
    harness.telegram.kick_bot(TEAM_CHAT)
    harness.bybit.post_message(order.id, "while removed")
    polls = harness.bybit.calls_to("/v5/p2p/order/message/listpage")
    await harness.telegram.wait_for(lambda: harness.bybit.calls_to("/v5/p2p/order/message/listpage") > polls + 2)
    assert not any("while removed" in t for t in harness.texts())  # held, not sent into the void
    harness.telegram.restore_bot(TEAM_CHAT)
    await harness.wait_text("while removed", timeout=10)
    assert sum("while removed" in t for t in harness.texts()) == 1


async def test_status_tells_the_truth(harness: Harness) -> None:
    order = harness.bybit.add_order()
    harness.bybit.post_message(order.id, "one")
    await harness.start()
    await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("one")
    harness.bybit.inject("server_error", times=1)
    harness.bybit.post_message(order.id, "two")
    await harness.wait_text("two")
    assert [r.status for r in harness.bybit.requests].count(502) == 1  # Bybit failed once; the client retried
    status = await harness.reply_to("/status")
    if "2 delivered" not in status:  # Telegram has the post; the store marks it a moment after the answer
        await asyncio.sleep(0.5)
        status = await harness.reply_to("/status")
    assert "Errors since start: none" in status  # a retried failure is not a polling error
    assert "Bybit budget: " in status and "/s of 10/s over the last minute; most calls in it: order/" in status
    assert "Watched orders: 1 (1 in this chat)" in status
    assert "Delivery queue: 0 pending, 0 held, 0 dead-lettered, 2 delivered" in status
    assert "Last Bybit poll:" in status and "never" not in status.split("Last Bybit poll:")[1].split("\n")[0]
    assert "chat API: order" in status


async def flood(bybit: FakeBybit, telegram: FakeTelegram, tmp_path: Path, scale: int, per_order: int) -> None:
    telegram.add_chat(TEAM_CHAT, type="supergroup", title="Merchant team", is_forum=True)
    harness = Harness(bybit, telegram, tmp_path / "flood.db")
    orders = [bybit.add_order(counterparty_nick=f"Buyer{n}") for n in range(10)]
    await harness.start(
        telegram_group_messages_per_minute=20 * scale,
        telegram_chat_messages_per_second=1 * scale,
        telegram_global_messages_per_second=30 * scale,
    )
    try:
        await harness.reply_to("/watch " + " ".join(o.id for o in orders))
        await telegram.wait_for(lambda: len(telegram.chats[TEAM_CHAT].topics) == 10, timeout=600)
        for n in range(per_order):
            for order in orders:
                if n % 5 == 4:
                    bybit.post_media(order.id, "pic", b"\x89PNG" + bytes(n), f"r{order.id[-2:]}-{n}.png")
                else:
                    bybit.post_message(order.id, f"{order.id[-2:]} msg {n:02d}")
        expected_media = 10 * (per_order // 5)
        await telegram.wait_for(
            lambda: (
                len([s for s in telegram.sent if s.media_kind]) == expected_media
                and all(
                    lines_of(telegram.sent, f"{o.id[-2:]} msg")[-1:] == [f"{o.id[-2:]} msg {per_order - 1:02d}"]
                    or (per_order - 1) % 5 == 4
                    for o in orders
                )
            ),
            timeout=600,
        )
        for order in orders:
            tag = order.id[-2:]
            posts = in_thread(telegram, topic_of(telegram, order))
            texts = lines_of(posts, f"{tag} msg")
            assert texts == [f"{tag} msg {n:02d}" for n in range(per_order) if n % 5 != 4]
            assert len([s for s in posts if s.media_kind]) == per_order // 5
        assert telegram.flood_errors == 0
    finally:
        await harness.stop()


async def test_flood_of_200_messages_across_10_orders_without_a_429(tmp_path: Path) -> None:
    async with FakeBybit() as bybit, FakeTelegram(enforce_flood_limits=True, flood_scale=20) as telegram:
        await flood(bybit, telegram, tmp_path, scale=20, per_order=20)


@pytest.mark.slow
@pytest.mark.timeout(1200)
async def test_flood_at_telegrams_real_limits(tmp_path: Path) -> None:
    async with FakeBybit() as bybit, FakeTelegram(enforce_flood_limits=True) as telegram:
        await flood(bybit, telegram, tmp_path, scale=1, per_order=20)


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_ten_orders_talking_at_once_at_telegrams_real_limits_arrive_within_90_s(tmp_path: Path) -> None:
    """10 orders of 20 texts each over 20 s into one forum group: all in ≤ 90 s after the last, in order, no 429."""
    async with FakeBybit() as bybit, FakeTelegram(enforce_flood_limits=True) as telegram:
        telegram.add_chat(TEAM_CHAT, type="supergroup", title="Merchant team", is_forum=True)
        harness = Harness(bybit, telegram, tmp_path / "flood.db")
        orders = [bybit.add_order(counterparty_nick=f"Buyer{n}") for n in range(10)]
        await harness.start(
            poll_interval=1.0,
            telegram_group_messages_per_minute=20,
            telegram_chat_messages_per_second=1,
            telegram_global_messages_per_second=30,
        )
        try:
            await harness.reply_to("/watch " + " ".join(o.id for o in orders))
            await telegram.wait_for(lambda: len(telegram.chats[TEAM_CHAT].pinned) == 10, timeout=200)
            for n in range(20):
                for order in orders:
                    bybit.post_message(order.id, f"{order.id[-2:]} msg {n:02d}")
                await asyncio.sleep(1.0)
                if n == 10:  # a command mid-flood is answered ahead of the backlog
                    asked, status = time.monotonic(), harness.say("/status")
            last_arrived = time.monotonic()
            tags = [o.id[-2:] for o in orders]
            await telegram.wait_for(
                lambda: all(lines_of(telegram.sent, f"{tag} msg")[-1:] == [f"{tag} msg 19"] for tag in tags),
                timeout=300,
            )
            took = time.monotonic() - last_arrived
            [answer] = [s for s in telegram.sent if s.reply_to == status]
            answered = answer.time - asked
            print(f"\nall 200 delivered {took:.1f} s after the last arrived; /status answered in {answered:.1f} s")
            assert answered < 10
            for order in orders:
                posts = in_thread(telegram, topic_of(telegram, order))
                tag = order.id[-2:]
                assert lines_of(posts, f"{tag} msg") == [f"{tag} msg {n:02d}" for n in range(20)]
            assert telegram.flood_errors == 0
            assert took <= 90
        finally:
            await harness.stop()
