"""Every exception the bridge raises on purpose lives here."""

from __future__ import annotations


class BridgeError(Exception):
    """Base class of the bridge's own errors."""


class ConfigError(BridgeError):
    """The configuration is missing or invalid; the message names the variable, never its value."""


class AlreadyRunning(BridgeError):
    """Another bridge holds this database (or this bot): this one must not start."""


class SchemaTooNew(BridgeError):
    """The database was written by a newer bridge; this one must not touch it."""

    def __init__(self, found: int, known: int) -> None:
        self.found = found
        self.known = known
        super().__init__(f"database schema {found} is newer than this bridge ({known}); upgrade the bridge")


class BybitError(BridgeError):
    """A Bybit call failed; ``code`` is Bybit's ret_code (or 0 for transport failures)."""

    def __init__(self, code: int, message: str, *, endpoint: str = "") -> None:
        self.code = code
        self.message = message
        self.endpoint = endpoint
        where = f" on {endpoint}" if endpoint else ""
        super().__init__(f"Bybit error {code}{where}: {message}")


class BybitAuthError(BybitError):
    """The API key, signature, permission or IP whitelist was refused (10003/10004/10005/10010)."""


class BybitUnavailable(BybitError):
    """Bybit could not be reached or kept failing (timeouts, 5xx, connection errors, rate limits)."""


class ChatApiRetired(BybitError):
    """Bybit answered that the order-scoped chat API is closed (912200387, 404, no JSON, "path not found")."""


class MediaUnavailable(BridgeError):
    """A chat file could not be fetched from Bybit or is too large to upload; ``reason`` says why.

    ``expired`` means the link's token was refused: a fresh chat list call gives a new link.
    ``transient`` means the media host failed (5xx, timeout, unreachable): trying later may work.
    """

    def __init__(self, reason: str, *, expired: bool = False, transient: bool = False) -> None:
        self.reason = reason
        self.expired = expired
        self.transient = transient
        super().__init__(reason)


class ChatUnavailable(BridgeError):
    """Telegram will not take posts for a chat now (bot removed, blocked or restricted, chat not found).

    ``retry_in`` is how many seconds the chat's posts are held before the next try.
    """

    def __init__(self, reason: str, *, retry_in: float = 60.0) -> None:
        self.reason = reason
        self.retry_in = retry_in
        super().__init__(reason)


class TelegramAnswerLost(BridgeError):
    """Telegram's answer was lost (none in time, the connection reset, a 5xx): the call may or may not have
    taken effect, so a post may or may not have arrived."""


def describe(exc: BaseException) -> str:
    """An unforeseen failure in a few words: its kind and what it says (the first of a group's)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"[:300]
