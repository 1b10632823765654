"""The fake Bybit's copy of Bybit's values: return codes, paths, statuses, limits (kept in step with bridge/bybit)."""

from __future__ import annotations

from typing import Final, Literal

ListShape = Literal["nested", "bare"]
Sender = Literal["counterparty", "self", "system"]
MediaKind = Literal["pic", "pdf", "video"]
Fault = Literal["rate_limit", "server_error", "hang", "late", "timestamp", "auth", "sign"]
Retirement = Literal["code", "gone", "not json", "path not found"]
"""How the order-scoped chat paths answer once retired: 912200387 (as since September 2026), HTTP 404 (the paths
removed), a page that is not Bybit JSON (a gateway's), or a generic "path not found" envelope."""

CODE_OK: Final = 0
CODE_PARAMS: Final = 10001
CODE_TIMESTAMP: Final = 10002
CODE_API_KEY: Final = 10003
CODE_SIGN: Final = 10004
CODE_RATE_LIMIT: Final = 10006
CODE_ORDER_NOT_FOUND: Final = 912100027
CODE_CHAT_API_CLOSED: Final = 912200387
CODE_SESSION_NOT_FOUND: Final = 912200100  # invented: Bybit does not document this one
CODE_ORDER_CLOSED: Final = (
    912100089  # invented: Bybit refuses chat sends on finished orders with a code it does not document
)
FINAL_STATUSES: Final = frozenset({40, 50, 80})

MSG_CHAT_API_CLOSED: Final = "chat open api close, pls chat with new open api"
CODE_PATH_NOT_FOUND: Final = 10404  # invented: the code of a gateway's generic "path not found" is not documented
ORDER_CHAT_PATHS: Final = frozenset({"/v5/p2p/order/message/listpage", "/v5/p2p/order/message/send"})
RATE_LIMIT_RESET_HEADER: Final = "X-Bapi-Limit-Reset-Timestamp"
PENDING_STATUSES: Final = frozenset({5, 10, 20, 30, 90, 100, 110})
MEDIA_PATH: Final = "/fiat/p2p/oss/showObj/otc/9001/"
MEDIA_TTL_SECONDS: Final = 3 * 3600
UPLOAD_PATH: Final = "/v5/p2p/oss/upload_file"
UNREAD_COUNT_FIELDS: Final = ("unreadCount", "selfUnreadMsgCount", "unreadMsgCount")
WRITE_PATHS: Final = frozenset({"/v5/p2p/order/message/send", "/v5/p2p/chat/message/send_v1", UPLOAD_PATH})
"""The endpoints that spend the write budget; every other one is a read."""
READS_PER_SECOND: Final = 10
"""Bybit's P2P read budget per account (docs page p2p/rate-limit; the session message list states the same)."""
WRITES_PER_SECOND: Final = 5
"""Bybit's P2P write budget per account (docs page p2p/rate-limit; ``send_v1`` states the same)."""
BUDGET_WINDOW_SECONDS: Final = 1.0
UPLOAD_FIELD: Final = "upload_file"
UPLOAD_TTL_SECONDS: Final = 72 * 3600
"""Validity of an upload's URL: the docs' example link expires 72 h after its request's timestamp."""
UPLOAD_TYPES: Final = {".jpg": "IMAGE", ".jpeg": "IMAGE", ".png": "IMAGE", ".pdf": "PDF", ".mp4": "VIDEO"}
"""Accepted extensions and the ``type`` answered; the docs show only "IMAGE", "PDF"/"VIDEO" are guesses."""
DEFAULT_RECV_WINDOW: Final = 5000
FUTURE_TOLERANCE_MS: Final = 1000
HANG_SECONDS: Final = 300.0
PAY_WINDOW_SECONDS: Final = 15 * 60
MAX_SESSION_MESSAGE_CHARS: Final = 1000
SESSION_TYPES: Final = frozenset({"SINGLE", "GROUP"})
SESSION_API_PATHS: Final = frozenset(
    {
        "/v5/p2p/chat/session/getSessionId",
        "/v5/p2p/chat/session/list_v1",
        "/v5/p2p/chat/message/listpage_v1",
        "/v5/p2p/chat/message/send_v1",
    }
)
"""Endpoints whose docs show the short success envelope ``{"ret_code": 0, "ret_msg": "", "result": …}``."""
_MSG_TYPE_BY_CONTENT = {"str": 1, "pic": 2, "pdf": 7, "video": 8}
_ALARM_MSG_TYPE = 103
