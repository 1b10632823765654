"""Session chat attribution: which order a message of a counterparty belongs to, and who gets it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.bybit import SessionMessage
from bridge.core.attribution import SESSION_CLOCK_SLACK, Counterparty, attribute, to_chat_message
from tests.factories import order

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_session_messages_go_to_the_newest_order_before_them() -> None:
    orders = {"first": T0, "later": T0 + timedelta(hours=1)}
    assert attribute(T0 - timedelta(hours=1), orders) == ""
    assert attribute(T0 + timedelta(minutes=1), orders) == "first"
    assert attribute(T0 - timedelta(seconds=30), orders) == "first"  # stamped a little before its order
    assert attribute(T0 + timedelta(hours=2), orders) == "later"


def test_a_watched_likeliest_order_gets_its_message() -> None:
    both = Counterparty(watched={"a": T0, "b": T0 + timedelta(hours=1)}, known={})
    assert both.owner(T0 + timedelta(minutes=5)) == ("a", "a")
    assert both.owner(T0 + timedelta(hours=2)) == ("b", "b")


def test_a_message_of_an_unwatched_order_goes_to_a_watched_one_naming_it() -> None:
    appeal = Counterparty(watched={"appeal": T0}, known={"new": T0 + timedelta(hours=1)})
    assert appeal.owner(T0 + timedelta(hours=2)) == ("new", "appeal")
    older = Counterparty(watched={"a": T0, "b": T0 + timedelta(hours=3)}, known={"x": T0 + timedelta(hours=1)})
    assert older.owner(T0 + timedelta(hours=2)) == ("x", "a")  # the newest watched order before it


def test_history_older_than_every_watched_order_goes_to_the_oldest() -> None:
    history = Counterparty(watched={"a": T0 + timedelta(hours=1), "b": T0 + timedelta(hours=2)}, known={})
    assert history.owner(T0) == ("", "a")


@settings(max_examples=300, deadline=None)
@given(
    orders=st.lists(st.integers(0, 1000), min_size=1, max_size=8),
    watched_mask=st.lists(st.booleans(), min_size=8, max_size=8),
    messages=st.lists(st.integers(-100, 1200), max_size=40),
)
def test_no_message_of_a_counterparty_with_a_watched_order_is_left_without_one(
    orders: list[int], watched_mask: list[bool], messages: list[int]
) -> None:
    created = {f"o{n}": T0 + timedelta(minutes=minute) for n, minute in enumerate(orders)}
    watched = {order_id: when for n, (order_id, when) in enumerate(created.items()) if watched_mask[n]}
    if not watched:
        watched = dict(list(created.items())[:1])
    counterparty = Counterparty(watched=watched, known=created)
    for minute in messages:
        sent = T0 + timedelta(minutes=minute)
        likeliest, owner = counterparty.owner(sent)
        assert owner in watched
        assert likeliest == attribute(sent, created)
        if likeliest in watched:
            assert owner == likeliest
        elif any(when <= sent + SESSION_CLOCK_SLACK for when in watched.values()):
            assert watched[owner] <= sent + SESSION_CLOCK_SLACK


def test_session_message_sender_by_nickname() -> None:
    info = order()
    raw = {"id": "5", "contentType": "str", "createDate": "1741765371720"}
    theirs = to_chat_message(
        SessionMessage.model_validate({**raw, "sendUserNickName": "BuyerBob", "message": '{"content":"hi"}'}),
        info,
        info.id,
    )
    mine = to_chat_message(
        SessionMessage.model_validate({**raw, "sendUserNickName": "TeamMerchant", "message": "{}"}), info, ""
    )
    system = to_chat_message(
        SessionMessage.model_validate({**raw, "sendUserNickName": "SYSTEM", "message": '{"msgType":0}'}), info, ""
    )
    assert (theirs.user_id, theirs.message, theirs.order_id) == (info.target_user_id, "hi", info.id)
    assert mine.user_id == info.user_id
    assert system.is_system
