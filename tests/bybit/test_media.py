"""MediaFetcher against real loopback hosts: only the configured media hosts are ever requested, hop by hop."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bridge.bybit import MediaFetcher, MediaHosts
from bridge.errors import MediaUnavailable
from tests.hosts import PNG, WebHost


@pytest.fixture
async def media() -> AsyncIterator[WebHost]:
    async with WebHost() as host:
        yield host


@pytest.fixture
async def other() -> AsyncIterator[WebHost]:
    async with WebHost() as host:
        yield host


async def fetch(hosts: MediaHosts, url: str) -> bytes:
    fetcher = MediaFetcher(hosts, timeout=5)
    try:
        return await fetcher.fetch(url, 1 << 20)
    finally:
        await fetcher.aclose()


def test_only_the_configured_origins_are_allowed() -> None:
    hosts = MediaHosts("http://127.0.0.1:8001", ["cdn.example.com", "http://files.example.com:8080"])

    assert hosts.refusal("http://127.0.0.1:8001/fiat/p2p/oss/a.png?e=1&token=t") is None
    assert hosts.refusal("https://CDN.example.com./a.png") is None
    assert hosts.refusal("https://cdn.example.com:443/a.png") is None
    assert hosts.refusal("http://files.example.com:8080/a.png") is None
    assert hosts.refusal("http://127.0.0.1:8002/a.png") == "127.0.0.1:8002 is not Bybit's media host"
    assert hosts.refusal("http://localhost:8001/a.png") == "localhost:8001 is not Bybit's media host"
    assert hosts.refusal("http://cdn.example.com/a.png") == "cdn.example.com is not Bybit's media host"  # no http
    assert hosts.refusal("http://169.254.169.254/latest/meta-data") == "169.254.169.254 is not Bybit's media host"
    assert hosts.refusal("http://[::1]:8001/a.png") == "::1:8001 is not Bybit's media host"
    assert hosts.refusal("http://10.0.0.1/a.png") == "10.0.0.1 is not Bybit's media host"
    assert hosts.refusal("file:///etc/passwd") == "not an http(s) link"
    assert hosts.refusal("gopher://127.0.0.1:8001/") == "not an http(s) link"
    assert hosts.refusal("http:///a.png") == "not a valid link"
    assert hosts.refusal("http://127.0.0.1:8001/a\tb.png") == "not a valid link"
    assert hosts.refusal("http://127.0.0.1:port/a.png") == "not a valid link"


def test_a_configured_entry_must_be_an_http_host() -> None:
    for entry in ("file:///etc", "ftp://cdn.example.com", "https://", "http://a:b"):
        with pytest.raises(ValueError):
            MediaHosts("https://api2.bybit.com", [entry])


async def test_the_media_host_is_fetched(media: WebHost) -> None:
    assert await fetch(MediaHosts(media.url), f"{media.url}/a.png") == PNG
    assert media.requests == ["/a.png"]


async def test_another_loopback_port_is_never_requested(media: WebHost, other: WebHost) -> None:
    with pytest.raises(MediaUnavailable) as refused:
        await fetch(MediaHosts(media.url), f"{other.url}/a.png")

    assert refused.value.reason == f"not downloaded: {other.url[7:]} is not Bybit's media host"
    assert not refused.value.transient and not refused.value.expired
    assert other.requests == []


async def test_a_redirect_to_another_host_is_not_followed(media: WebHost, other: WebHost) -> None:
    media.redirect_to = f"{other.url}/a.png"

    with pytest.raises(MediaUnavailable) as refused:
        await fetch(MediaHosts(media.url), f"{media.url}/start.png")

    assert refused.value.reason == f"not downloaded (redirect): {other.url[7:]} is not Bybit's media host"
    assert media.requests == ["/start.png"]
    assert other.requests == []


async def test_redirects_between_allowed_hosts_are_followed_and_bounded(media: WebHost, other: WebHost) -> None:
    media.redirect_to = f"{other.url}/moved.png"
    assert await fetch(MediaHosts(media.url, [other.url]), f"{media.url}/a.png") == PNG
    assert other.requests == ["/moved.png"]

    other.redirect_to = f"{media.url}/again.png"
    with pytest.raises(MediaUnavailable, match="more than 5 redirects"):
        await fetch(MediaHosts(media.url, [other.url]), f"{media.url}/a.png")


async def test_an_unparsable_link_is_refused_for_good(media: WebHost) -> None:
    with pytest.raises(MediaUnavailable) as refused:
        await fetch(MediaHosts(media.url), f"{media.url}/a\tb.png")

    assert refused.value.reason == "not downloaded: not a valid link" and not refused.value.transient
    assert media.requests == []
