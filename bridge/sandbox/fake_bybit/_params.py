"""Reading a request's parameters as strictly as Bybit's docs type them; refusals as :class:`_P2PError`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeGuard, TypeVar

from aiohttp.multipart import BadContentDispositionHeader, parse_content_disposition

from bridge.sandbox.fake_bybit.constants import _MSG_TYPE_BY_CONTENT, CODE_PARAMS, UPLOAD_FIELD


class _P2PError(Exception):
    """An order-level refusal, answered in the P2P envelope."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _params_error() -> _P2PError:
    return _P2PError(CODE_PARAMS, "params error")


def _is_digits(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and value.isascii() and value.isdigit()


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_param(body: Mapping[str, Any], name: str, *, low: int = 1, high: int | None = None) -> int:
    """A required parameter the docs type as integer: a JSON number in ``[low, high]`` (strings refused)."""
    value = body.get(name)
    if not _is_int(value) or value < low or (high is not None and value > high):
        raise _params_error()
    return value


def _optional_int(body: Mapping[str, Any], name: str, allowed: Iterable[int]) -> int | None:
    """An optional integer parameter (absent or null: ``None``) that must be one of ``allowed``."""
    value = body.get(name)
    if value is None:
        return None
    if not _is_int(value) or value not in allowed:
        raise _params_error()
    return value


def _number_text_param(
    body: Mapping[str, Any], name: str, *, default: str | None = None, high: int | None = None
) -> int:
    """A positive number the docs type as string: a JSON string of digits (JSON numbers refused)."""
    value = body.get(name)
    if value is None:
        value = default
    if not _is_digits(value) or int(value) < 1 or (high is not None and int(value) > high):
        raise _params_error()
    return int(value)


def _str_param(body: Mapping[str, Any], name: str, *, max_chars: int | None = None) -> str:
    """A required string parameter: a non-empty JSON string of at most ``max_chars`` characters."""
    value = body.get(name)
    if not isinstance(value, str) or not value or (max_chars is not None and len(value) > max_chars):
        raise _params_error()
    return value


def _optional_str(body: Mapping[str, Any], name: str) -> str | None:
    """An optional string parameter: absent or null is ``None``, anything but a JSON string is refused."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _params_error()
    return value


def _time_param(body: Mapping[str, Any], name: str) -> int | None:
    """``beginTime``/``endTime``: an optional string of milliseconds ("" or null: none)."""
    value = _optional_str(body, name)
    if not value:
        return None
    if not _is_digits(value):
        raise _params_error()
    return int(value)


def _content_type_param(body: Mapping[str, Any]) -> str:
    content_type = _str_param(body, "contentType")
    if content_type not in _MSG_TYPE_BY_CONTENT:
        raise _params_error()
    return content_type


def _upload_part(content_type: str, raw: bytes) -> tuple[str, str, bytes]:
    """The one part of an upload body: (file name, its Content-Type, bytes), strictly as RFC 7578 frames it.

    The body must be ``--<boundary>`` CRLF, the part's headers, CRLF CRLF, the bytes, CRLF ``--<boundary>--``
    (an optional CRLF after): one part named ``upload_file`` with a ``filename`` and a ``Content-Type``.
    """
    media_type, params = _header_value(content_type)
    boundary = params.get("boundary", "")
    if media_type != "multipart/form-data" or not boundary:
        raise _params_error()
    delimiter = f"--{boundary}".encode()
    closing = b"\r\n" + delimiter + b"--"
    if not raw.startswith(delimiter + b"\r\n") or not raw.removesuffix(b"\r\n").endswith(closing):
        raise _params_error()
    part = raw[len(delimiter) + 2 : raw.removesuffix(b"\r\n").rindex(closing)]
    head, separator, data = part.partition(b"\r\n\r\n")
    if not separator or b"\r\n" + delimiter in data:
        raise _params_error()
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", errors="replace").split("\r\n"):
        name, colon, value = line.partition(":")
        if not colon:
            raise _params_error()
        headers[name.strip().lower()] = value.strip()
    try:
        disposition, fields = parse_content_disposition(headers.get("content-disposition"))
    except BadContentDispositionHeader:
        raise _params_error() from None
    file_name = fields.get("filename", "")
    part_type = headers.get("content-type", "")
    if disposition != "form-data" or fields.get("name") != UPLOAD_FIELD or not file_name or not part_type:
        raise _params_error()
    return file_name, part_type, data


def _header_value(value: str) -> tuple[str, dict[str, str]]:
    """A header's lowercased value and its ``;``-separated parameters (quotes removed)."""
    main, *rest = value.split(";")
    params = {}
    for param in rest:
        name, _, text = param.partition("=")
        params[name.strip().lower()] = text.strip().strip('"')
    return main.strip().lower(), params


Row = TypeVar("Row")


def _page(rows: list[Row], page: int, size: int) -> list[Row]:
    return rows[(page - 1) * size : page * size]
