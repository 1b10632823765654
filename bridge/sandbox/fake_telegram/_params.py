"""A call's parameters as the Bot API reads them, and Telegram's refusals."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class _Upload:
    file_name: str
    data: bytes
    content_type: str


class _ApiError(Exception):
    """A refusal in Telegram's ``{"ok": false, …}`` form."""

    def __init__(
        self, status: int, description: str, parameters: dict[str, int] | None = None, *, page: bool = False
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters
        self.page = page

    def response(self) -> web.Response:
        if self.page:
            return web.Response(status=self.status, text=self.description, content_type="text/html")
        payload: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            payload["parameters"] = self.parameters
        return web.json_response(payload, status=self.status)


def _reset(request: web.Request) -> web.Response:
    """Drop the connection without an answer (the response returned is never sent)."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response()


def _bad(reason: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {reason}")


def _retry_after(seconds: int) -> _ApiError:
    return _ApiError(429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds})


@dataclass(frozen=True)
class _Params:
    """A call's parameters from the query, a JSON body or a form; form values arrive as strings."""

    values: dict[str, Any]
    files: dict[str, _Upload]

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None else str(value)

    def integer(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad(f"invalid {name} specified") from None

    def json(self, name: str) -> Any:
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise _bad(f"can't parse {name} JSON object") from None

    def flag(self, name: str) -> bool:
        return self.values.get(name) in (True, "true", "True", "1")

    def input_file(self, name: str) -> _Upload | str | None:
        """An uploaded part (``attach://<part>`` or a part named ``name``), or a URL / file_id string."""
        value = self.text(name)
        if value is not None and value.startswith("attach://"):
            upload = self.files.get(value.removeprefix("attach://"))
            if upload is None:
                raise _bad("wrong file identifier/HTTP URL specified")
            return upload
        return self.files.get(name) or value


async def _read_params(request: web.Request) -> _Params:
    values: dict[str, Any] = dict(request.query)
    files: dict[str, _Upload] = {}
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise _bad("can't parse JSON body") from None
        if isinstance(body, dict):
            values.update(body)
    elif request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                files[name] = _Upload(value.filename, value.file.read(), value.content_type)
            else:
                values[name] = value if isinstance(value, str) else bytes(value).decode()
    return _Params(values, files)
