"""A loopback web host besides the fakes: serves a file (or redirects) and records every request it gets."""

from __future__ import annotations

from aiohttp import web

from bridge.sandbox._server import LoopbackServer

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 300


class WebHost(LoopbackServer):
    """Answers every path with ``PNG`` or, when ``redirect_to`` is set, a 302 to it; ``requests`` lists the paths."""

    def __init__(self, redirect_to: str | None = None) -> None:
        super().__init__()
        self.redirect_to = redirect_to
        self.requests: list[str] = []

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path_qs)
        if self.redirect_to is not None:
            return web.Response(status=302, headers={"Location": self.redirect_to})
        return web.Response(body=PNG, content_type="image/png")
