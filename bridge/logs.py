"""Logging set-up: one line per event, with every registered secret masked wherever it appears."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

MASK = "***"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactingFilter(logging.Filter):
    """Replace secret strings in a record's final message (and traceback) with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Short strings are ignored, so a tiny test secret cannot mask common words.
        self._secrets = {s for s in secrets if len(s) >= 6}

    def redact(self, text: str) -> str:
        """Return ``text`` with every registered secret masked."""
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = self.redact(record.getMessage())
        if record.exc_info:
            message += "\n" + self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
            record.exc_text = None
        record.msg, record.args = message, None
        return True


def setup_logging(level: str, secrets: Iterable[str] = ()) -> None:
    """Send logs to stderr, one line per event, with ``secrets`` masked."""
    redactor = RedactingFilter(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Request lines of the HTTP clients are noise at INFO and may carry tokens in URLs.
    for noisy in ("httpx", "httpcore", "aiohttp.access", "aiogram.event"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
