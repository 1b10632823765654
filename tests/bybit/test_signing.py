"""Signing vectors: our HMAC matches Bybit's official connector (pybit) byte for byte."""

from __future__ import annotations

import json

import pytest
from pybit._http_manager import generate_signature  # type: ignore[import-untyped]

from bridge.bybit._signing import auth_headers, sign

# A fixed vector: if this changes, every request to Bybit breaks.
FIXED = ("secret-xyz", 1_700_000_000_000, "key-abc", 5000, b'{"orderId":"1898976123321221120"}')
FIXED_SIGNATURE = "d2963bf63828546124e048fbf0fdf46a505dcc649b9344e4c726807df64bc838"


@pytest.mark.parametrize(
    "body",
    [b"", b"{}", json.dumps({"orderId": "1898976123321221120", "size": "30"}).encode(), '{"m":"ñ"}'.encode()],
)
def test_matches_pybit(body: bytes) -> None:
    ours = sign("s3cr3t", 1_741_765_371_720, "myKey", 5000, body)
    official = generate_signature(False, "s3cr3t", f"1741765371720myKey5000{body.decode()}")
    assert ours == official


def test_signature_depends_on_every_input() -> None:
    base = sign(*FIXED)
    secret, ts, key, window, body = FIXED
    variants = [
        sign("other", ts, key, window, body),
        sign(secret, ts + 1, key, window, body),
        sign(secret, ts, "key-abd", window, body),
        sign(secret, ts, key, 5001, body),
        sign(secret, ts, key, window, body + b" "),
    ]
    assert base not in variants
    assert len(set(variants)) == len(variants)


def test_fixed_vector_is_stable() -> None:
    assert sign(*FIXED) == FIXED_SIGNATURE
    assert (
        generate_signature(False, "secret-xyz", '1700000000000key-abc5000{"orderId":"1898976123321221120"}')
        == FIXED_SIGNATURE
    )


def test_headers() -> None:
    headers = auth_headers("key-abc", "secret-xyz", 1_700_000_000_000, 5000, b"{}")
    assert headers["X-BAPI-API-KEY"] == "key-abc"
    assert headers["X-BAPI-TIMESTAMP"] == "1700000000000"
    assert headers["X-BAPI-RECV-WINDOW"] == "5000"
    assert headers["X-BAPI-SIGN-TYPE"] == "2"
    assert headers["X-BAPI-SIGN"] == sign("secret-xyz", 1_700_000_000_000, "key-abc", 5000, b"{}")
    assert "secret-xyz" not in "".join(headers.values())
