"""A fake Bybit v5 P2P API: signed endpoints, both chat API generations, media links and injected faults.

Tests and the demo drive it through Python methods (:meth:`FakeBybit.add_order`,
:meth:`FakeBybit.post_message`, :meth:`FakeBybit.inject`, …) while the bridge talks to it over HTTP exactly
as it would to ``api.bybit.com``. Signatures are verified with the fake's own HMAC code, never the bridge's.

Every signed call spends Bybit's request budget as Bybit counts it: on arrival, in a sliding 1 s window per
account, 10 reads and 5 writes (the send and upload endpoints) a second by default; past it the answer is
10006 "Too many visits!" with ``X-Bapi-Limit-Reset-Timestamp``, the moment the window frees. An optional
``delay`` answers every signed call that many seconds late, as a distant server does.

The chat file upload (``/v5/p2p/oss/upload_file``) takes a multipart body, signed over its exact bytes; what it
returns is the only media URL a pic/pdf/video send accepts (besides those of media already in the fake's chats).

Requests are checked as strictly as Bybit's docs (bybit-exchange/docs, ``docs/p2p``) state their parameters:
a parameter typed *integer* must be a JSON number, one typed *string* a JSON string, required ones present,
page sizes within the documented maximum; anything else is refused with 10001 "params error". Answers
have the docs' fields and JSON types, e.g. ``createDate`` as a string of milliseconds.
"""

from bridge.sandbox.fake_bybit._server import FakeBybit, RecordedRequest
from bridge.sandbox.fake_bybit._world import FakeOrder
from bridge.sandbox.fake_bybit.constants import (
    BUDGET_WINDOW_SECONDS,
    CODE_API_KEY,
    CODE_CHAT_API_CLOSED,
    CODE_OK,
    CODE_PARAMS,
    CODE_RATE_LIMIT,
    CODE_SIGN,
    CODE_TIMESTAMP,
    MEDIA_PATH,
    MSG_CHAT_API_CLOSED,
    UNREAD_COUNT_FIELDS,
    WRITE_PATHS,
    Fault,
    ListShape,
    MediaKind,
    Retirement,
)

__all__ = [
    "BUDGET_WINDOW_SECONDS",
    "CODE_API_KEY",
    "CODE_CHAT_API_CLOSED",
    "CODE_OK",
    "CODE_PARAMS",
    "CODE_RATE_LIMIT",
    "CODE_SIGN",
    "CODE_TIMESTAMP",
    "MEDIA_PATH",
    "MSG_CHAT_API_CLOSED",
    "UNREAD_COUNT_FIELDS",
    "WRITE_PATHS",
    "FakeBybit",
    "FakeOrder",
    "Fault",
    "ListShape",
    "MediaKind",
    "RecordedRequest",
    "Retirement",
]
