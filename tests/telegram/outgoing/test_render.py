"""Rendering: roles, escaping, media, splitting — pure functions."""

from __future__ import annotations

import html
import re

from bridge.bybit import MessageKind
from bridge.telegram.constants import MessageLimit
from bridge.telegram.outgoing.render import (
    MediaPart,
    TextPart,
    absolute_url,
    media_as_link,
    render,
    split_lines,
    split_post,
    text_block,
)
from tests.factories import SELF_ID, message, order

HOST = "https://api2.bybit.com"


def only_text(parts: list[TextPart | MediaPart]) -> str:
    assert len(parts) == 1 and isinstance(parts[0], TextPart)
    return parts[0].html


def test_counterparty_buyer_when_you_sell() -> None:
    text = only_text(render(message("I paid"), order(side=1), HOST))
    assert "<b>Buyer (counterparty)</b> BuyerBob" in text
    assert "order <code>…221120</code>" in text
    assert "11 Mar" in text or "12 Mar" in text
    assert text.endswith("\nI paid")


def test_counterparty_seller_and_you() -> None:
    assert "Seller (counterparty)" in only_text(render(message(), order(side=0), HOST))
    mine = only_text(render(message(userId=SELF_ID, nickName="TeamMerchant"), order(side=1), HOST))
    assert "<b>You (seller)</b> TeamMerchant" in mine


def test_system_first_even_with_your_user_id() -> None:
    text = only_text(render(message("Order created", msgType=0, roleType="sys", userId=SELF_ID), order(), HOST))
    assert "<b>Bybit system</b>" in text and "You" not in text


def test_support_and_alarm() -> None:
    assert "Bybit support" in only_text(render(message("hi", msgType=5), order(), HOST))
    alarm = message('Beware <a href="https://x">scams</a> &amp; fraud', msgType=103, roleType="alarm")
    text = only_text(render(alarm, order(), HOST))
    assert "Bybit warning" in text and "Beware scams &amp; fraud" in text and "<a " not in text


def test_html_is_escaped() -> None:
    text = only_text(render(message("<b>1 & 2</b>", nickName="<Evil&Co>"), order(), HOST))
    assert "&lt;b&gt;1 &amp; 2&lt;/b&gt;" in text
    assert "&lt;Evil&amp;Co&gt;" in text


def test_image_becomes_photo_with_absolute_url() -> None:
    msg = message("/fiat/p2p/oss/showObj/otc/9001/r.png?e=1&token=t", msgType=2, contentType="pic")
    [part] = render(msg, order(), HOST)
    assert isinstance(part, MediaPart) and part.kind is MessageKind.IMAGE
    assert part.url == f"{HOST}/fiat/p2p/oss/showObj/otc/9001/r.png?e=1&token=t"
    assert part.file_name == "r.png"
    assert "Buyer (counterparty)" in part.caption


def test_pdf_and_video_kinds() -> None:
    assert render(message("/a.pdf", msgType=7, contentType="pdf"), order(), HOST)[0].kind is MessageKind.PDF  # type: ignore[union-attr]
    assert render(message("/a.mp4", msgType=8, contentType="video"), order(), HOST)[0].kind is MessageKind.VIDEO  # type: ignore[union-attr]


def test_link_fallback_names_reason_and_keeps_link() -> None:
    [part] = render(message("/x/a b.png?e=1&token=t", msgType=2, fileName="a<b>.png"), order(), HOST)
    assert isinstance(part, MediaPart)
    fallback = media_as_link(part, "HTTP 403")
    assert 'href="https://api2.bybit.com/x/a b.png?e=1&amp;token=t"' in fallback.html
    assert "a&lt;b&gt;.png" in fallback.html and "(HTTP 403)" in fallback.html


def test_a_link_that_is_not_a_web_link_is_shown_as_text() -> None:
    [part] = render(message("file:///etc/passwd", msgType=2, fileName="p.png"), order(), HOST)
    assert isinstance(part, MediaPart) and part.url == "file:///etc/passwd"
    fallback = media_as_link(part, "not an http(s) link")
    assert "href" not in fallback.html and "p.png: <code>file:///etc/passwd</code>" in fallback.html


def test_absolute_url_keeps_full_urls() -> None:
    assert absolute_url("https://cdn.example/x.png", HOST) == "https://cdn.example/x.png"
    assert absolute_url("file:///etc/passwd", HOST) == "file:///etc/passwd"
    assert absolute_url("x.png", HOST + "/") == f"{HOST}/x.png"


def test_long_text_is_split_under_the_limit_without_breaking_entities() -> None:
    body = ("word & <tag> " * 1200).strip()
    posts = split_post("<b>Buyer</b> header", body)
    assert len(posts) > 1
    assert all(len(post) <= MessageLimit.TEXT for post in posts)
    assert all(re.search(r"&[a-z]*$", post) is None for post in posts)  # no entity cut in half
    rebuilt = " ".join(html.unescape(post.split("\n", 1)[1]) for post in posts)
    assert rebuilt.split() == body.split()
    assert posts[0].startswith("<b>Buyer</b> header (1/")


def test_text_block_only_for_single_post_texts() -> None:
    assert text_block(message("short"), order()) is not None
    assert text_block(message("x" * 5000), order()) is None
    assert text_block(message("/a.png", msgType=2), order()) is None


def test_split_lines_packs_whole_lines_under_the_limit() -> None:
    text = "\n".join(f"<b>{n:03d}</b> {'w' * 30}" for n in range(300))
    posts = split_lines(text)
    assert len(posts) > 1 and all(len(post) <= MessageLimit.TEXT for post in posts)
    assert "\n".join(posts) == text  # nothing lost, no line cut
    assert split_lines("short\n\nanswer") == ["short\n\nanswer"]


def test_a_line_too_long_alone_is_split_as_plain_text() -> None:
    line = "<code>" + "a&amp;b " * 1000 + "</code>"
    posts = split_lines(f"first\n{line}\nlast")
    assert all(len(post) <= MessageLimit.TEXT for post in posts)
    assert "<code>" not in "".join(posts) and "a&amp;b" in posts[1]
    assert posts[0].startswith("first") and posts[-1].endswith("\nlast")
