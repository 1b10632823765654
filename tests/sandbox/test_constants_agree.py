"""The sandbox keeps its own copies of Bybit's and Telegram's values on purpose; they must agree with the bridge's."""

# mypy's strict equality takes an int literal and an IntEnum member for values that never compare equal; they do.
# mypy: disable-error-code="comparison-overlap"

from __future__ import annotations

from bridge.bybit import ContentType, MsgType, OrderStatus, RetCode
from bridge.sandbox.fake_bybit import constants as fake_bybit
from bridge.sandbox.fake_telegram import constants as fake_telegram
from bridge.telegram.constants import FileSizeLimit, FloodLimit, MessageLimit


def test_bybit_return_codes_agree() -> None:
    assert fake_bybit.CODE_OK == RetCode.OK
    assert fake_bybit.CODE_PARAMS == RetCode.PARAMS
    assert fake_bybit.CODE_TIMESTAMP == RetCode.TIMESTAMP
    assert fake_bybit.CODE_API_KEY == RetCode.API_KEY
    assert fake_bybit.CODE_SIGN == RetCode.SIGNATURE
    assert fake_bybit.CODE_RATE_LIMIT == RetCode.RATE_LIMIT
    assert fake_bybit.CODE_CHAT_API_CLOSED == RetCode.CHAT_API_CLOSED
    assert {fake_bybit.CODE_API_KEY, fake_bybit.CODE_SIGN} <= RetCode.auth()


def test_bybit_message_and_content_types_agree() -> None:
    assert fake_bybit._MSG_TYPE_BY_CONTENT == {
        ContentType.TEXT: MsgType.TEXT,
        ContentType.PICTURE: MsgType.IMAGE,
        ContentType.PDF: MsgType.PDF,
        ContentType.VIDEO: MsgType.VIDEO,
    }
    assert fake_bybit._ALARM_MSG_TYPE == MsgType.ALARM


def test_bybit_open_order_statuses_agree() -> None:
    statuses = {OrderStatus(status) for status in fake_bybit.PENDING_STATUSES}
    assert not any(status.final for status in statuses)
    assert {status for status in OrderStatus if status.final} == {40, 50, 80}


def test_telegram_limits_agree() -> None:
    assert fake_telegram.MAX_TEXT_CHARS == MessageLimit.TEXT
    assert fake_telegram.MAX_CAPTION_CHARS == MessageLimit.CAPTION
    assert fake_telegram.MAX_TOPIC_NAME_CHARS == MessageLimit.TOPIC_NAME
    assert fake_telegram._SIZE_LIMITS["photo"][0] == FileSizeLimit.PHOTO_UPLOAD
    assert fake_telegram._SIZE_LIMITS["document"][0] == FileSizeLimit.FILE_UPLOAD
    assert fake_telegram._GROUP_PACE == (FloodLimit.GROUP_MESSAGES_PER_MINUTE, 60.0)
    assert fake_telegram._PRIVATE_PACE == (FloodLimit.CHAT_MESSAGES_PER_SECOND, 1.0)
    assert fake_telegram._GLOBAL_PACE == (FloodLimit.GLOBAL_MESSAGES_PER_SECOND, 1.0)
