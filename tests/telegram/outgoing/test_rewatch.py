"""An order watched again in another chat makes its home there: a new topic and card, nothing of the old chat's."""

from __future__ import annotations

from tests.harness import OTHER_CHAT, TEAM_CHAT, Harness


async def test_an_order_rewatched_in_another_chat_gets_a_new_topic_there(harness: Harness) -> None:
    for chat in (TEAM_CHAT, OTHER_CHAT):
        harness.telegram.chats[chat].is_forum = True
    order = harness.bybit.add_order()
    harness.bybit.post_message(order.id, "a 01 in the first chat")
    await harness.start(telegram_allowed_chat_ids=[OTHER_CHAT])
    assert "Watching" in await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("a 01")
    [first] = [s for s in harness.telegram.sent_to(TEAM_CHAT) if "a 01" in (s.plain or "")]
    assert first.thread_id is not None
    teams_topic = 0
    while teams_topic < first.thread_id:  # the other chat's team has a topic of its own with that very id
        teams_topic = harness.telegram.add_topic(OTHER_CHAT, f"team talk {teams_topic}")
    assert teams_topic == first.thread_id

    assert "Stopped" in await harness.reply_to(f"/unwatch {order.id}")
    assert "Watching" in await harness.reply_to(f"/watch {order.id}", chat_id=OTHER_CHAT)
    harness.bybit.post_message(order.id, "a 02 in the second chat")
    await harness.wait_text("a 02", chat_id=OTHER_CHAT)

    there = harness.telegram.chats[OTHER_CHAT]
    [second] = [s for s in harness.telegram.sent_to(OTHER_CHAT) if "a 02" in (s.plain or "")]
    [card] = [s for s in harness.telegram.sent_to(OTHER_CHAT) if f"Order …{order.id[-6:]}" in (s.plain or "")]
    assert second.thread_id is not None and second.thread_id != teams_topic
    assert there.topics[second.thread_id].name.startswith(f"…{order.id[-6:]}")
    assert card.thread_id == second.thread_id
    assert not [s for s in harness.telegram.sent_to(OTHER_CHAT) if s.thread_id == teams_topic]
