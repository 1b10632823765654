"""What Bybit really sends: its docs' own example payloads, and shapes the docs do not promise, never block a chat."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bridge.bybit import ChatMessage, MessageKind, OrderInfo, SessionMessage
from bridge.bybit.models import OrderSummary, parse_items
from tests.bybit_docs import docs_example
from tests.harness import Harness


def docs_items(name: str, key: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = docs_example(name)["response"]["result"][key]
    return items


def test_docs_session_messages_parse_with_empty_string_types() -> None:
    text, picture = parse_items(SessionMessage, docs_items("chat_message_listpage_v1", "messages"), "docs")
    assert (text.content, text.msg_type, text.msg_code, text.unreadable) == ("Hello, I have paid.", None, None, False)
    assert picture.content_type == "pic" and picture.file_name == "payment-proof.png"


def test_docs_session_messages_of_march_2026_parse_with_numeric_types() -> None:
    text, picture = parse_items(SessionMessage, docs_items("chat_message_listpage", "messages"), "docs")
    assert (text.msg_type, picture.msg_type, picture.file_name) == (301, 302, "grub.png")


def test_docs_order_chat_order_info_and_open_orders_parse() -> None:
    [message] = parse_items(ChatMessage, docs_items("order_message_listpage", "result"), "docs")
    assert (message.message, message.kind, message.is_system) == ("hi, test", MessageKind.TEXT, False)
    info = OrderInfo.model_validate(docs_example("order_info")["response"]["result"])
    assert info.id and info.target_user_mask_id and info.create_date is not None
    for item in docs_example("order_pending_simplifyList")["response"]["result"]["items"]:
        assert OrderSummary.model_validate(item).id


def test_docs_open_order_gives_the_order_detail_but_its_payment_terms() -> None:
    detail = OrderInfo.model_validate(docs_example("order_info")["response"]["result"])
    [item] = docs_items("order_pending_simplifyList", "items")
    listed = OrderSummary.model_validate(item).as_info(detail.nick_name)
    assert listed is not None and listed.listed and not listed.payment_term_list
    lacked = {"payment_term_list": detail.payment_term_list, "payment_type": detail.payment_type, "listed": False}
    later = {"transfer_last_seconds": detail.transfer_last_seconds}  # (the docs' two examples are 11 min apart)
    assert listed.model_copy(update=lacked | later) == detail
    assert listed.detailed(detail) == detail.model_copy(update={"transfer_last_seconds": listed.transfer_last_seconds})
    assert OrderSummary.model_validate(item).as_info("") is None  # (your nickname unknown: not from the list)
    assert OrderSummary.model_validate(item | {"targetUserMaskId": ""}).as_info(detail.nick_name) is None


@pytest.mark.parametrize(
    "odd",
    [
        {"msgType": "", "msgCode": "", "isRead": "", "read": None},
        {"msgType": "2", "msgCode": "0", "onlyForCustomer": "1"},
        {"msgType": 999, "contentType": "sticker"},
        {"message": {"orderId": "1", "amount": "10"}, "msgType": 11, "contentType": "SYS_ORDER_CARD"},
        {"userId": 290118, "accountId": 290120, "nickName": 42},
    ],
)
def test_odd_but_readable_fields_are_tolerated(odd: dict[str, Any]) -> None:
    item = docs_items("order_message_listpage", "result")[0] | odd
    [message] = parse_items(ChatMessage, [item], "test")
    assert not message.unreadable and message.id == "3000835348"


def test_an_unreadable_message_becomes_a_placeholder_with_its_raw_text() -> None:
    good = docs_items("order_message_listpage", "result")[0]
    broken = good | {"id": "3000835349", "createDate": "yesterday", "message": ["?"]}
    nameless = {"what": "no id at all"}
    messages = parse_items(ChatMessage, [good, broken, nameless], "test")
    assert [m.unreadable for m in messages] == [False, True, True]
    assert messages[1].id == "3000835349" and "yesterday" in messages[1].message
    assert messages[2].id.startswith("raw-") and messages[2].kind is MessageKind.UNREADABLE
    assert parse_items(ChatMessage, [nameless], "again")[0].id == messages[2].id  # the same id every read


@pytest.mark.parametrize("when", ["253402300800000", "99999999999999999999", -99999999999999, 1e300, float("nan")])
def test_a_time_no_datetime_can_hold_makes_a_placeholder_not_a_failed_page(when: object) -> None:
    good = docs_items("order_message_listpage", "result")[0]
    messages = parse_items(ChatMessage, [good | {"id": "3000835349", "createDate": when}, good], "test")
    assert [m.unreadable for m in messages] == [True, False]
    assert messages[0].id == "3000835349"


async def test_the_docs_session_example_is_forwarded(harness: Harness) -> None:
    bybit = harness.bybit
    order = bybit.add_order(counterparty_nick="Saaaul")
    for item in reversed(docs_items("chat_message_listpage_v1", "messages")):
        bybit.post_raw_session_message("Saaaul", item)
    await harness.start(bybit_chat_api="session")
    await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("Hello, I have paid.")
    await harness.wait_text("payment-proof.png")
    later = {"id": "1920001234567891", "sendUserNickName": "Saaaul", "contentType": "str"}
    later["message"] = json.dumps({"content": "Please release", "msgCode": "", "msgType": "", "fileName": ""})
    later["createDate"] = str(bybit.server_time_ms())
    bybit.post_raw_session_message("Saaaul", later)
    await harness.wait_text("Please release")
    texts = harness.texts()
    assert any(t.startswith("Buyer (counterparty) Saaaul") and "Hello, I have paid." in t for t in texts)


async def test_the_docs_order_chat_example_is_forwarded(harness: Harness) -> None:
    bybit = harness.bybit
    order = bybit.add_order()
    bybit.post_raw_order_message(order.id, docs_items("order_message_listpage", "result")[0])
    await harness.start(bybit_chat_api="order")
    await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("hi, test")


async def test_an_unreadable_message_is_forwarded_and_never_blocks_its_chat(harness: Harness) -> None:
    bybit = harness.bybit
    order = bybit.add_order(counterparty_nick="Saaaul")
    await harness.start(bybit_chat_api="session")
    await harness.reply_to(f"/watch {order.id}")
    first = bybit.post_message(order.id, "u 01")
    await harness.wait_text("u 01")
    next_id = str(int(first["id"]) + 1)  # Bybit's ids grow with time
    bybit.post_raw_session_message("Saaaul", {"id": next_id, "createDate": {"when": "now"}})
    bybit.post_message(order.id, "u 02")
    await harness.wait_text("u 02")
    bybit.post_message(order.id, "u 03")
    await harness.wait_text("u 03")
    unreadable = [t for t in harness.texts() if "could not read this message" in t]
    assert len(unreadable) == 1 and '"when": "now"' in unreadable[0]


async def test_a_message_dated_beyond_year_9999_never_stops_its_order_chat(harness: Harness) -> None:
    bybit = harness.bybit
    order = bybit.add_order()
    await harness.start(bybit_chat_api="order")
    await harness.reply_to(f"/watch {order.id}")
    first = bybit.post_message(order.id, "d 01")
    await harness.wait_text("d 01")
    next_id = str(int(first["id"]) + 1)
    bybit.post_raw_order_message(order.id, {"id": next_id, "createDate": "99999999999999999999", "message": "?"})
    bybit.post_message(order.id, "d 02")
    await harness.wait_text("d 02")
    await harness.wait_text("could not read this message")  # (its place in the chat's order is by its odd date)
    assert sum("could not read this message" in t for t in harness.texts()) == 1
