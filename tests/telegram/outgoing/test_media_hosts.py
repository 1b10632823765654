"""Through the real bridge: a chat file is fetched only from Bybit's media host(s); any other link stays text."""

from __future__ import annotations

from typing import Any

from bridge.sandbox.fake_bybit import FakeOrder
from tests.harness import Harness
from tests.hosts import PNG, WebHost


def post_link(harness: Harness, order: FakeOrder, url: str, file_name: str) -> None:
    """The counterparty's image message whose link is ``url`` (as if Bybit carried a full link)."""
    last = harness.bybit.messages(order.id)[-1]
    item: dict[str, Any] = last | {"id": str(int(last["id"]) + 1), "message": url, "fileName": file_name}
    harness.bybit.post_raw_order_message(order.id, item | {"contentType": "pic", "msgType": 2})


async def test_only_the_media_hosts_are_fetched_and_other_links_are_posted_as_text(harness: Harness) -> None:
    async with WebHost() as other, WebHost() as mirror, WebHost() as hopper:
        hopper.redirect_to = f"{other.url}/inner.png"
        order = harness.bybit.add_order()
        harness.bybit.post_message(order.id, "x 00")
        await harness.start(bybit_media_hosts=[mirror.url, hopper.url])
        assert "Watching" in await harness.reply_to(f"/watch {order.id}")
        await harness.wait_text("x 00")

        post_link(harness, order, f"{other.url}/receipt.png", "other.png")
        post_link(harness, order, f"{hopper.url}/hop.png", "hop.png")
        post_link(harness, order, "file:///etc/passwd", "passwd.png")
        post_link(harness, order, f"{mirror.url}/mirror.png", "mirror.png")
        harness.bybit.post_media(order.id, "pic", PNG, "bybit.png")
        harness.bybit.post_message(order.id, "x 01 after the links")
        await harness.wait_text("x 01")
        foreign = other.url.removeprefix("http://")

    assert other.requests == []  # neither directly nor through the redirect
    assert hopper.requests == ["/hop.png"] and mirror.requests == ["/mirror.png"]
    posts = [s for s in harness.telegram.sent if s.media_kind or "📎" in (s.plain or "")]
    assert [s.file_name if s.media_kind else (s.plain or "").splitlines()[-1] for s in posts] == [
        f"📎 other.png (not downloaded: {foreign} is not Bybit's media host)",
        f"📎 hop.png (not downloaded (redirect): {foreign} is not Bybit's media host)",
        "📎 passwd.png: file:///etc/passwd (not downloaded: not an http(s) link)",
        "mirror.png",
        "bybit.png",
    ]
    assert f'href="http://{foreign}/receipt.png"' in (posts[0].text or "")
