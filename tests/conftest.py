"""Shared fixtures: a guard against real network access, and started sandbox fakes."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bridge.sandbox import FakeBybit, FakeTelegram

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost", b"127.0.0.1", b"::1", b"localhost"})


def _refuse_remote(sock: socket.socket, address: Any) -> None:
    """Raise unless ``address`` is a unix socket or loopback.

    A refused socket is closed first: callers such as :func:`socket.create_connection` close it only on
    ``OSError``, so without this it would leak (a ``ResourceWarning``, an error under ``-W error``).
    """
    if sock.family == getattr(socket, "AF_UNIX", None):
        return
    host = address[0] if isinstance(address, tuple) else address
    if host not in _LOOPBACK_HOSTS:
        sock.close()
        raise RuntimeError("network access outside loopback is refused in tests")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs with outbound connections limited to loopback (subprocesses are not affected)."""
    connect = socket.socket.connect
    connect_ex = socket.socket.connect_ex

    def guarded_connect(sock: socket.socket, address: Any) -> None:
        _refuse_remote(sock, address)
        connect(sock, address)

    def guarded_connect_ex(sock: socket.socket, address: Any) -> int:
        _refuse_remote(sock, address)
        return connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)


@pytest.fixture
async def fake_bybit() -> AsyncIterator[FakeBybit]:
    """A started :class:`FakeBybit` with default credentials (``sandbox-key`` / ``sandbox-secret``)."""
    async with FakeBybit() as fake:
        yield fake


@pytest.fixture
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    """A started :class:`FakeTelegram` with the default token ``123456:SANDBOX-TOKEN``."""
    async with FakeTelegram() as fake:
        yield fake


pytest_plugins = ("tests.harness", "tests.processes")
