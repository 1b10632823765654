"""Downloading chat files from Bybit's media host(s) only, bounded in time and size."""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from bridge.errors import MediaUnavailable

EXPIRED_STATUSES = frozenset({401, 403, 410})  # how a media host refuses an expired token
MAX_REDIRECTS = 5
_DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]


def _origin(url: httpx.URL) -> Origin:
    return url.scheme, url.host.lower().rstrip("."), url.port or _DEFAULT_PORTS[url.scheme]


def media_origin(entry: str) -> Origin:
    """The origin a configured host stands for: a bare ``host`` or ``host:port`` means https.

    Raises ValueError when ``entry`` is not an http(s) host.
    """
    try:
        url = httpx.URL(entry if "://" in entry else f"https://{entry}")
    except httpx.InvalidURL:
        raise ValueError("not a host name or http(s) URL") from None
    if url.scheme not in _DEFAULT_PORTS or not url.host:
        raise ValueError("not a host name or http(s) URL")
    return _origin(url)


class MediaHosts:
    """The origins (scheme, host, port) chat files may be fetched from, trusted exactly as configured.

    ``media_url`` is the host Bybit's relative media paths are completed with; each of ``extra`` is a
    host (``cdn.example.com``, meaning https on port 443), ``host:port`` or a full ``http(s)://`` URL.
    Anything else, above all a loopback, private or link-local address that was not configured, is refused.
    """

    def __init__(self, media_url: str, extra: Iterable[str] = ()) -> None:
        self._allowed = frozenset(media_origin(entry) for entry in (media_url, *extra))

    def refusal(self, url: str | httpx.URL) -> str | None:
        """Why ``url`` must not be fetched (``None``: it may be)."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError):
            return "not a valid link"
        if parsed.scheme not in _DEFAULT_PORTS:
            return "not an http(s) link"
        if not parsed.host:
            return "not a valid link"
        if _origin(parsed) not in self._allowed:
            where = f"{parsed.host}:{parsed.port}" if parsed.port else parsed.host
            return f"{where} is not Bybit's media host"
        return None


class MediaFetcher:
    """Fetches a file by URL into memory from an allowed host; refuses anything larger than the caller's limit.

    Redirects are followed hop by hop, each checked against the allowed hosts before it is requested.
    """

    def __init__(self, hosts: MediaHosts, *, timeout: float = 20.0) -> None:
        self._hosts = hosts
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(timeout), follow_redirects=False)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def fetch(self, url: str, max_bytes: int) -> bytes:
        """The file's bytes, or MediaUnavailable naming the reason (foreign host, expired, too big, unreachable)."""
        try:
            request = self._checked(self._http.build_request("GET", url), redirect=False)
            for _ in range(MAX_REDIRECTS + 1):
                response = await self._http.send(request, stream=True)
                try:
                    if not response.has_redirect_location:
                        return await self._body(response, max_bytes)
                    assert response.next_request is not None  # set for every redirect with a Location
                    request = self._checked(response.next_request, redirect=True)
                finally:
                    await response.aclose()
        except httpx.InvalidURL:
            raise MediaUnavailable("not downloaded: not a valid link") from None
        except httpx.HTTPError as exc:
            raise MediaUnavailable(f"could not download the file ({type(exc).__name__})", transient=True) from None
        raise MediaUnavailable(f"not downloaded: more than {MAX_REDIRECTS} redirects")

    def _checked(self, request: httpx.Request, *, redirect: bool) -> httpx.Request:
        """``request`` if its URL is on an allowed host, else MediaUnavailable (never requested)."""
        reason = self._hosts.refusal(request.url)
        if reason is not None:
            raise MediaUnavailable(f"not downloaded{' (redirect)' if redirect else ''}: {reason}")
        return request

    @staticmethod
    async def _body(response: httpx.Response, max_bytes: int) -> bytes:
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
