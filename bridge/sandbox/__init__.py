"""Sandbox fakes of Bybit's P2P API and Telegram's Bot API, for tests and the offline demo."""

from bridge.sandbox.fake_bybit import FakeBybit, FakeOrder, RecordedRequest
from bridge.sandbox.fake_telegram import FakeChat, FakeTelegram, FakeTopic, RecordedCall, SentMessage

__all__ = [
    "FakeBybit",
    "FakeChat",
    "FakeOrder",
    "FakeTelegram",
    "FakeTopic",
    "RecordedCall",
    "RecordedRequest",
    "SentMessage",
]
