"""Downloading chat files from Bybit's media host, bounded in time and size."""

from __future__ import annotations

import httpx

from bridge.errors import MediaUnavailable

EXPIRED_STATUSES = frozenset({401, 403, 410})  # how a media host refuses an expired token


class MediaFetcher:
    """Fetches a file by URL into memory; refuses anything larger than the caller's limit."""

    def __init__(self, *, timeout: float = 20.0) -> None:
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(timeout), follow_redirects=True)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def fetch(self, url: str, max_bytes: int) -> bytes:
        """The file's bytes, or MediaUnavailable naming the reason (expired link, too big, unreachable)."""
        try:
            async with self._http.stream("GET", url) as response:
                if response.status_code != 200:
                    raise MediaUnavailable(
                        f"the file link answered HTTP {response.status_code}",
                        expired=response.status_code in EXPIRED_STATUSES,
                        transient=response.status_code >= 500 or response.status_code == 429,
                    )
                declared = int(response.headers.get("Content-Length") or 0)
                if declared > max_bytes:
                    raise MediaUnavailable(f"file is {declared // 1024} KiB, over Telegram's upload limit")
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data.extend(chunk)
                    if len(data) > max_bytes:
                        raise MediaUnavailable("file is over Telegram's upload limit")
                return bytes(data)
        except httpx.HTTPError as exc:
            raise MediaUnavailable(f"could not download the file ({type(exc).__name__})", transient=True) from None
