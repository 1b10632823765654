"""Session ids from the session list: a listed counterparty needs no getSessionId read, a doubtful name always does."""

from __future__ import annotations

from bridge.bybit import ApiName, BybitClient, ChatSource, OrderInfo
from bridge.core.sessions import NAME_WINDOW, ListedSessions
from bridge.sandbox.fake_bybit import FakeBybit
from tests.harness import Harness

SESSION_ID = "/v5/p2p/chat/session/getSessionId"
SESSIONS = "/v5/p2p/chat/session/list_v1"
OPEN_ORDERS = "/v5/p2p/order/pending/simplifyList"


async def test_a_counterparty_whose_session_was_listed_is_read_without_asking_for_its_session_id(
    harness: Harness,
) -> None:
    """Before: every newly watched counterparty cost a getSessionId read, though the sweep had just listed it."""
    bybit = harness.bybit
    eve = bybit.add_order(counterparty_nick="SellerEve")
    bob = bybit.add_order(counterparty_nick="BuyerBob")
    bybit.post_message(bob.id, "l 01 hello, paying now")  # unread: the session list names Bob's session
    await harness.start(bybit_chat_api="session")
    assert "Watching" in await harness.reply_to(f"/watch {eve.id}")  # (the sweep runs while chats are watched)
    await harness.telegram.wait_for(
        lambda: any(r.path == SESSIONS for r in bybit.requests) and any(r.path == OPEN_ORDERS for r in bybit.requests)
    )
    assert "Watching" in await harness.reply_to(f"/watch {bob.id}")
    await harness.wait_text("l 01 hello, paying now")
    assert [r.body["userMaskId"] for r in bybit.requests if r.path == SESSION_ID] == [eve.target_mask_id]
    bybit.post_message(bob.id, "l 02 done")  # and the session lent is the right one to go on with
    await harness.wait_text("l 02 done")


def order(nick: str, user_id: str) -> OrderInfo:
    return OrderInfo.model_validate(
        {"id": f"o-{user_id}", "targetNickName": nick, "targetUserId": user_id, "targetUserMaskId": f"m-{user_id}"}
    )


def test_a_name_both_lists_show_for_the_same_user_lends_its_session() -> None:
    sessions = ListedSessions()
    sessions.shown("Alice", "1", at=100.0)
    sessions.listed("Alice", "S-alice", at=101.0)
    assert sessions.session_of(order("Alice", "1")) == "S-alice"


def test_a_name_the_open_orders_show_for_another_user_lends_nothing() -> None:
    """Alice took a new name and Mallory took "Alice": the watch's order detail still says "Alice"."""
    sessions = ListedSessions()
    sessions.shown("Alice", "2", at=100.0)  # Mallory's order
    sessions.listed("Alice", "S-mallory", at=101.0)
    assert sessions.session_of(order("Alice", "1")) is None


def test_a_name_seen_for_two_users_or_two_sessions_lends_nothing_ever_after() -> None:
    two_users = ListedSessions()
    two_users.shown("Alice", "1", at=100.0)
    two_users.shown("Alice", "2", at=101.0)
    two_users.shown("Alice", "1", at=102.0)
    two_users.listed("Alice", "S-alice", at=102.0)
    assert two_users.session_of(order("Alice", "1")) is None

    two_sessions = ListedSessions()
    two_sessions.shown("Alice", "1", at=100.0)
    two_sessions.listed("Alice", "S-mallory", at=100.0)
    two_sessions.listed("Alice", "S-alice", at=101.0)
    assert two_sessions.session_of(order("Alice", "1")) is None

    renamed = ListedSessions()  # one session under two names: its old name may be someone else's now
    renamed.listed("Alice", "S-alice", at=100.0)
    renamed.listed("Alicia", "S-alice", at=101.0)
    renamed.shown("Alice", "1", at=101.0)
    renamed.shown("Alicia", "1", at=101.0)
    assert renamed.session_of(order("Alice", "1")) is None
    assert renamed.session_of(order("Alicia", "1")) is None


def test_a_name_two_watched_counterparties_go_by_lends_nothing() -> None:
    sessions = ListedSessions()
    sessions.watched([order("Alice", "1"), order("Alice", "2")])
    sessions.shown("Alice", "1", at=100.0)
    sessions.listed("Alice", "S-alice", at=100.0)
    assert sessions.session_of(order("Alice", "1")) is None


def test_lists_read_far_apart_lend_nothing() -> None:
    sessions = ListedSessions()
    sessions.shown("Alice", "1", at=100.0)
    sessions.listed("Alice", "S-alice", at=100.0 + NAME_WINDOW + 1)
    assert sessions.session_of(order("Alice", "1")) is None
    assert sessions.session_of(order("Bob", "3")) is None  # (never listed)


async def test_a_session_held_by_another_counterparty_is_never_lent(fake_bybit: FakeBybit) -> None:
    """The chat source keeps what it holds: a listed id it has for someone else, or a second id, is refused."""
    bob = fake_bybit.add_order(counterparty_nick="BuyerBob")
    fake_bybit.post_message(bob.id, "x 01")
    remembered: list[tuple[str, str]] = []

    async def remember(mask_id: str, session_id: str) -> None:
        remembered.append((mask_id, session_id))

    async def switched(_: ApiName) -> None:
        raise AssertionError("no switch on the session API")

    client = BybitClient(api_key=fake_bybit.api_key, api_secret=fake_bybit.api_secret, base_url=fake_bybit.url)
    async with client:
        source = ChatSource(
            client, mode="session", current="session", on_switch=switched, sessions={"m-2": "S"}, on_session=remember
        )
        await source.adopt(bob.target_mask_id, "S")  # Mallory's (m-2) session, listed under Bob's old name
        await source.adopt("m-2", "S-other")
        pages = [page async for page in source.session_pages(bob.target_mask_id)]
    assert [m.content for m in pages[0]] == ["x 01"]  # Bob's own session, asked for
    assert fake_bybit.calls_to(SESSION_ID) == 1
    assert [mask_id for mask_id, _ in remembered] == [bob.target_mask_id]
    assert remembered[0][1] not in {"S", "S-other"}


async def test_a_watch_of_many_counterparties_names_their_sessions_from_the_list_of_every_session(
    harness: Harness,
) -> None:
    """Before: one getSessionId read per counterparty (180 of the 400 reads a /watch of 200 took); a page of the
    session list (read or not) names 20 for one read."""
    bybit = harness.bybit
    orders = [bybit.add_order(counterparty_nick=f"Buyer{n:02d}") for n in range(6)]
    for order in orders:
        bybit.post_message(order.id, f"history of {order.id}")
        bybit.read_in_app(order_id=order.id)  # (the list of unread sessions names none of them)
    await harness.start(bybit_chat_api="session")
    assert "Watching" in await harness.reply_to("/watch " + " ".join(order.id for order in orders))
    for order in orders:
        await harness.wait_text(f"history of {order.id}")
    assert bybit.calls_to(SESSION_ID) == 0
    assert {r.body["readStatus"] for r in bybit.requests if r.path == SESSIONS} >= {2}
    bybit.post_message(orders[3].id, "l 02 done")  # and each session lent is the right one to go on with
    await harness.wait_text("l 02 done")
