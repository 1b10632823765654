"""The media in the fake's chats and uploads, and the signed, expiring links Bybit gives out to them."""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import parse_qsl

from bridge.sandbox.fake_bybit._params import _params_error
from bridge.sandbox.fake_bybit.constants import MEDIA_PATH, MEDIA_TTL_SECONDS, MediaKind

_MEDIA_KEY = b"sandbox-media-signing-key"
_DEFAULT_MIME = {"pic": "image/png", "pdf": "application/pdf", "video": "video/mp4"}


@dataclass(frozen=True)
class _MediaObject:
    data: bytes
    mime_type: str
    file_name: str
    kind: MediaKind


def _opaque(kind: str, value: str) -> str:
    """A deterministic id that looks random, e.g. a mask or session id."""
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:32]


def _media_name(path: str) -> str:
    """The object name in a relative media path ("" when ``path`` is not one)."""
    if not path.startswith(MEDIA_PATH):
        return ""
    return path.removeprefix(MEDIA_PATH).split("?", 1)[0]


class _MediaStore:
    """Media objects by name; links to them are signed against ``clock_ms`` (the fake's clock, in ms)."""

    def __init__(self, clock_ms: Callable[[], int]) -> None:
        self._clock_ms = clock_ms
        self._objects: dict[str, _MediaObject] = {}

    def get(self, name: str) -> _MediaObject | None:
        """The object called ``name``, if there is one."""
        return self._objects.get(name)

    def keep(self, kind: MediaKind, data: bytes, file_name: str) -> str:
        """Store a media object; return its name (opaque, with the file's extension)."""
        name = _opaque("object", str(len(self._objects))) + PurePosixPath(file_name).suffix.lower()
        mime_type = mimetypes.guess_type(file_name)[0] or _DEFAULT_MIME[kind]
        self._objects[name] = _MediaObject(data, mime_type, file_name, kind)
        return name

    def sent(self, content_type: str, message: str) -> _MediaObject | None:
        """The media a send refers to (``None`` for text); a pic/pdf/video send must carry a URL this fake
        signed (by an upload or in a chat list), for a file of that kind."""
        if content_type == "str":
            return None
        name = _media_name(message)
        media = self._objects.get(name)
        signed = self.signature_holds(name, dict(parse_qsl(message.partition("?")[2])))
        if media is None or not signed or media.kind != content_type:
            raise _params_error()
        return media

    def signature_holds(self, name: str, query: Mapping[str, str]) -> bool:
        """Whether a link's ``e`` (expiry, s) and ``token`` were signed by this fake for ``name`` (expired or not)."""
        expiry = query.get("e", "")
        return expiry.isdigit() and hmac.compare_digest(query.get("token", ""), self._token(name, int(expiry)))

    def fresh_link(self, record: dict[str, Any]) -> dict[str, Any]:
        """Like Bybit, sign a media path anew (valid 3 h from now) on every list call."""
        name = _media_name(str(record["message"]))
        if name not in self._objects:
            return record
        return record | {"message": self.signed_path(name)}

    def signed_path(self, name: str, ttl_seconds: int = MEDIA_TTL_SECONDS) -> str:
        """The relative media path of ``name`` with a token valid for ``ttl_seconds`` from the fake's now."""
        expiry = self._clock_ms() // 1000 + ttl_seconds
        return f"{MEDIA_PATH}{name}?e={expiry}&token={self._token(name, expiry)}"

    @staticmethod
    def _token(name: str, expiry: int) -> str:
        return hmac.new(_MEDIA_KEY, f"{name}:{expiry}".encode(), hashlib.sha256).hexdigest()
