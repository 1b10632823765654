"""Bybit v5 HMAC request signing."""

from __future__ import annotations

import hashlib
import hmac

SIGN_TYPE_HMAC = "2"


def sign(secret: str, timestamp_ms: int, api_key: str, recv_window: int, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of ``timestamp + api_key + recv_window + body`` keyed by ``secret``."""
    prefix = f"{timestamp_ms}{api_key}{recv_window}".encode()
    return hmac.new(secret.encode(), prefix + body, hashlib.sha256).hexdigest()


def auth_headers(api_key: str, secret: str, timestamp_ms: int, recv_window: int, body: bytes) -> dict[str, str]:
    """The five ``X-BAPI-*`` headers for a request whose exact body bytes are ``body``."""
    return {
        "X-BAPI-API-KEY": api_key,
        "X-BAPI-TIMESTAMP": str(timestamp_ms),
        "X-BAPI-RECV-WINDOW": str(recv_window),
        "X-BAPI-SIGN": sign(secret, timestamp_ms, api_key, recv_window, body),
        "X-BAPI-SIGN-TYPE": SIGN_TYPE_HMAC,
    }
