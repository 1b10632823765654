"""Logging set-up: one line per event, with every registered secret masked wherever it appears."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

MASK = "***"
MIN_SECRET_CHARS = 6  # shorter strings are not masked, so a tiny test secret cannot mask common words
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_secrets: set[str] = set()


def register_secrets(secrets: Iterable[str]) -> None:
    """From now on, :func:`mask` hides each of ``secrets`` (API key and secret, bot token) in this process."""
    _secrets.update(secret for secret in secrets if len(secret) >= MIN_SECRET_CHARS)


def mask(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``: what logs, the database and Telegram get."""
    for secret in sorted(_secrets, key=len, reverse=True):  # a whole token before its secret part
        text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Mask registered secrets in a record's final message (and traceback)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = mask(record.getMessage())
        if record.exc_info:
            message += "\n" + mask(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
            record.exc_text = None
        record.msg, record.args = message, None
        return True


def setup_logging(level: str, secrets: Iterable[str] = ()) -> None:
    """Send logs to stderr, one line per event, with ``secrets`` (and any registered later) masked."""
    register_secrets(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Request lines of the HTTP clients are noise at INFO and may carry tokens in URLs.
    for noisy in ("httpx", "httpcore", "aiohttp.access", "aiogram.event"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
