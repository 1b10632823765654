"""Small pure pieces: the sliding window, posting plans, session attribution, configuration."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bridge.bybit import SessionMessage
from bridge.bybit.chat import attribute, to_chat_message
from bridge.config import load_settings
from bridge.delivery import plan_posts
from bridge.errors import ConfigError
from bridge.poller import owner_of, split_backfill
from bridge.ratelimit import SlidingWindow
from bridge.store import Pending, State, Watch
from tests.factories import message, order


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_sliding_window_delay() -> None:
    clock = FakeClock()
    window = SlidingWindow(2, 10.0, clock=clock)
    assert window.delay() == 0
    asyncio.run(window.acquire())
    asyncio.run(window.acquire())
    assert window.delay() == pytest.approx(10.0)
    clock.now = 4.0
    assert window.delay() == pytest.approx(6.0)
    clock.now = 10.0
    assert window.delay() == 0
    window.push_back(30.0)
    assert window.delay() == pytest.approx(30.0)


def test_fractional_rate() -> None:
    half = SlidingWindow.per_second(0.5)
    assert (half.limit, half.period) == (1, 2.0)
    assert SlidingWindow.per_second(10).limit == 10


def watch(order_id: str = "1898976123321221120", **info: object) -> Watch:
    return Watch(order_id, -100, None, True, True, order(id=order_id, **info))


def pending(seq: int, text: str, order_id: str = "1898976123321221120", **fields: object) -> Pending:
    return Pending(seq, message(text, id=str(seq), **fields), watch(order_id), 0)


def test_plan_posts_coalesces_consecutive_texts_of_one_order() -> None:
    batch = [
        pending(1, "a"),
        pending(2, "b"),
        pending(3, "/r.png", msgType=2),
        pending(4, "c"),
        pending(5, "d", order_id="1898976123321229999"),
        pending(6, "e" * 3000),
        pending(7, "f" * 3000),
    ]
    posts = plan_posts(batch, coalesce=True)
    assert [[item.seq for item in post.items] for post in posts] == [[1, 2], [3], [4], [5], [6], [7]]
    assert [[item.seq for item in post.items] for post in plan_posts(batch, coalesce=False)] == [
        [n] for n in range(1, 8)
    ]


def test_backfill_split() -> None:
    msgs = [message(str(n), id=str(n)) for n in range(5)]
    older, fresh = split_backfill(msgs, 3)
    assert [m.id for m in older] == ["0", "1"] and [m.id for m in fresh] == ["2", "3", "4"]
    assert split_backfill(msgs, 0) == (msgs, [])


def test_session_messages_go_to_the_newest_order_before_them() -> None:
    created = order().create_date
    assert created is not None
    orders = {"first": created, "later": created + timedelta(hours=1)}
    assert attribute(created - timedelta(hours=1), orders) == ""
    assert attribute(created + timedelta(minutes=1), orders) == "first"
    assert attribute(created - timedelta(seconds=30), orders) == "first"  # stamped a little before its order
    assert attribute(created + timedelta(hours=2), orders) == "later"


def test_owner_of_a_message() -> None:
    first, later = watch("1111111111111111111"), watch("2222222222222222222")
    mine = message("x", orderId=later.order_id)
    stranger = message("x", orderId="3333333333333333333")
    assert owner_of(mine, first, {first.order_id, later.order_id}, by_session=True) == (later.order_id, State.PENDING)
    assert owner_of(stranger, first, {first.order_id}, by_session=True) == (first.order_id, State.SKIPPED)
    assert owner_of(stranger, first, {first.order_id}, by_session=False) == (first.order_id, State.PENDING)
    card = message("{}", msgType=11, contentType="SYS_ORDER_CARD")
    assert owner_of(card, first, {first.order_id}, by_session=False)[1] is State.SKIPPED


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


def test_config_errors_name_the_variable_not_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLL_INTERVAL", "soon-secret-ish")
    with pytest.raises(ConfigError) as err:
        load_settings(_env_file=None)
    assert "POLL_INTERVAL" in str(err.value) and "soon-secret-ish" not in str(err.value)


def test_missing_credentials_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    settings = load_settings(_env_file=None)
    with pytest.raises(ConfigError) as err:
        settings.require_credentials()
    assert "TELEGRAM_CHAT_ID" in str(err.value) and "BYBIT_API_SECRET" in str(err.value)
    assert "ABCDEFGHIJ" not in str(err.value)


def test_allowed_chats_and_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_ALLOWED_CHAT_IDS", "-1001, 42,")
    monkeypatch.setenv("TELEGRAM_CHAT_ID", "-100")
    monkeypatch.setenv("BYBIT_TESTNET", "true")
    settings = load_settings(_env_file=None)
    assert settings.served_chat_ids == {-1001, 42, -100}
    assert settings.bybit_url == "https://api-testnet.bybit.com"
    monkeypatch.setenv("BYBIT_BASE_URL", "http://127.0.0.1:9/")
    assert load_settings(_env_file=None).bybit_url == "http://127.0.0.1:9"
