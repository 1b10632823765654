"""Turn a Bybit chat message into Telegram posts: pure functions, HTML-escaped, within Telegram's limits."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from bridge.bybit import ChatMessage, MessageKind, OrderInfo
from bridge.bybit.constants import OrderStatus, RoleType
from bridge.telegram.constants import MessageLimit

NICKNAME_LIMIT = 64
FILE_NAME_LIMIT = 100  # with the header, keeps a caption far below MessageLimit.CAPTION
_TAG = re.compile(r"<[^>]*>")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")  # a link's own scheme (http:, file:, …)
_MEDIA_KINDS = frozenset({MessageKind.IMAGE, MessageKind.PDF, MessageKind.VIDEO})


@dataclass(frozen=True)
class TextPart:
    """A text post in HTML parse mode."""

    html: str


@dataclass(frozen=True)
class MediaPart:
    """A photo, document or video post; ``url`` is absolute, ``caption`` is HTML."""

    kind: MessageKind
    url: str
    file_name: str
    caption: str


Part = TextPart | MediaPart


def short_id(order_id: str) -> str:
    """The last six digits, as merchants tell orders apart at a glance."""
    return f"…{order_id[-6:]}" if len(order_id) > 6 else order_id


def sender_label(message: ChatMessage, order: OrderInfo) -> str:
    """Who wrote it, in words: Bybit first (system messages may carry your id), then you or them."""
    if message.role_type == RoleType.ALARM:
        return "Bybit warning"
    if message.is_system:
        return "Bybit system"
    if message.is_support:
        return "Bybit support"
    if message.user_id and message.user_id == order.user_id:
        return f"You ({order.your_role})"
    if not message.user_id or message.user_id == order.target_user_id:
        return f"{order.counterparty_role.capitalize()} (counterparty)"
    return "Other participant"


def header(message: ChatMessage, order: OrderInfo) -> str:
    """The first line of every post: role, nickname, order, time; and which other order it is likely about.

    A session chat spans every order with one counterparty: a message that most likely belongs to
    an order nobody watches is forwarded to a watched one, saying so.
    """
    nickname = message.nick_name[:NICKNAME_LIMIT]
    who = f"<b>{html.escape(sender_label(message, order))}</b>"
    if nickname and not message.is_system:
        who += f" {html.escape(nickname)}"
    when = message.create_date.strftime("%d %b %H:%M UTC")
    top = f"{who} · order <code>{short_id(order.id)}</code> · {when}"
    if message.order_id and message.order_id != order.id:
        top += f"\n↪ likely about order <code>{html.escape(message.order_id)}</code>, not watched"
    return top


def absolute_url(path: str, media_host: str) -> str:
    """Bybit sends media as a relative path with an expiring token; prefix the media host (a link is kept)."""
    if _SCHEME.match(path):
        return path
    return f"{media_host.rstrip('/')}/{path.lstrip('/')}"


def plain_text(message: ChatMessage) -> str:
    """The message's text for humans; Bybit's HTML warnings lose their tags."""
    if message.kind is MessageKind.UNREADABLE:
        return f"⚠️ The bridge could not read this message. Bybit sent:\n{message.message}"
    if message.role_type == RoleType.ALARM:
        return as_plain(message.message)
    return message.message


def as_plain(marked_up: str) -> str:
    """HTML as the text a reader sees: tags dropped, entities decoded (for Telegram without parse mode)."""
    return html.unescape(_TAG.sub("", marked_up)).strip()


def render(message: ChatMessage, order: OrderInfo, media_host: str) -> list[Part]:
    """All posts for one message: media with a caption, or text split under Telegram's limit."""
    top = header(message, order)
    if message.kind in _MEDIA_KINDS:
        url = absolute_url(message.message, media_host)
        name = (message.file_name or url.split("?", 1)[0].rsplit("/", 1)[-1])[:FILE_NAME_LIMIT]
        return [MediaPart(kind=message.kind, url=url, file_name=name, caption=f"{top}\n{html.escape(name)}")]
    return [TextPart(chunk) for chunk in split_post(top, plain_text(message))]


def text_block(message: ChatMessage, order: OrderInfo) -> str | None:
    """A text message as one block of a joint post, or None when it needs a post of its own."""
    if message.kind in _MEDIA_KINDS:
        return None
    posts = split_post(header(message, order), plain_text(message))
    return posts[0] if len(posts) == 1 else None


FILE_FOLLOWS = "file follows"
"""Why a placeholder carries a link: the file is fetched again and posted as a reply to it."""


def media_as_link(part: MediaPart, reason: str) -> TextPart:
    """The fallback when the media cannot be sent: its link (a web link clickable, any other as text), and why."""
    if part.url.startswith(("http://", "https://")):
        link = f'<a href="{html.escape(part.url, quote=True)}">{html.escape(part.file_name)}</a>'
    else:
        link = f"{html.escape(part.file_name)}: <code>{html.escape(part.url)}</code>"
    return TextPart(f"{part.caption}\n📎 {link} ({html.escape(reason)})")


def split_post(top: str, body: str, limit: int = MessageLimit.TEXT) -> list[str]:
    """``top`` and the escaped ``body``, in as many posts as the limit needs (split at line or word ends)."""
    pieces = _split_escaped(body, limit - len(top) - 16) if body else [""]
    if len(pieces) == 1:
        return [f"{top}\n{pieces[0]}".rstrip("\n")]
    return [f"{top} ({n}/{len(pieces)})\n{piece}" for n, piece in enumerate(pieces, start=1)]


def split_lines(text: str, limit: int = MessageLimit.TEXT) -> list[str]:
    """HTML ``text`` whose every line is whole HTML, in as few posts as the limit needs, split between lines.

    A line longer than the limit on its own loses its formatting and is split at word ends.
    """
    posts: list[str] = []
    lines: list[str] = []
    size = -1  # the newlines between lines
    for line in text.split("\n"):
        for piece in [line] if len(line) <= limit else _split_escaped(as_plain(line), limit):
            if lines and size + 1 + len(piece) > limit:
                posts.append("\n".join(lines))
                lines, size = [], -1
            lines.append(piece)
            size += 1 + len(piece)
    posts.append("\n".join(lines))
    return [post for post in posts if post.strip()]


def _split_escaped(text: str, budget: int) -> list[str]:
    """Escape ``text`` in chunks whose escaped length fits ``budget``; never cut inside an entity."""
    chunks: list[str] = []
    while text:
        size, used = 0, 0
        while size < len(text) and used + len(html.escape(text[size])) <= budget:
            used += len(html.escape(text[size]))
            size += 1
        if size < len(text):
            cut = max(text.rfind("\n", 0, size), text.rfind(" ", 0, size))
            size = cut + 1 if cut > size // 2 else size
        chunks.append(html.escape(text[:size]).strip())
        text = text[size:]
    return chunks


PAYMENT_TO_COME = "not read yet"  # a watch made from the open-order list: its payment terms come with its detail


def payment_method(order: OrderInfo) -> str:
    """The payment method's name, from the seller's payment terms or the order itself."""
    if order.listed:
        return PAYMENT_TO_COME
    for term in order.payment_term_list:
        config = term.get("paymentConfigVo") or {}
        name = config.get("paymentName") or term.get("bankName") or term.get("paymentType")
        if name:
            return str(name)
    return order.payment_type or "—"


def topic_name(order: OrderInfo) -> str:
    """A forum topic name a person can find: short id, side, amounts, counterparty."""
    side = "SELL" if order.you_sell else "BUY"
    name = (
        f"{short_id(order.id)} · {side} {order.quantity} {order.token_id} · "
        f"{order.amount} {order.currency_id} · {order.target_nick_name}"
    )
    return name[: MessageLimit.TOPIC_NAME]


def order_card(order: OrderInfo) -> str:
    """The order card posted (and pinned) at the top of an order's topic, in HTML."""
    e = html.escape
    side = "you sell" if order.you_sell else "you buy"
    status = OrderStatus.describe(order.status)
    if order.status == OrderStatus.WAITING_FOR_PAYMENT and order.transfer_last_seconds:
        status += f" · {order.transfer_last_seconds // 60} min left to pay"
    return "\n".join(
        [
            f"🧾 <b>Order {short_id(order.id)}</b> — {side}",
            f"<b>{e(order.quantity)} {e(order.token_id)}</b> for <b>{e(order.amount)} {e(order.currency_id)}</b>"
            f" at {e(order.price)}",
            f"Payment: {e(payment_method(order))}",
            f"{order.counterparty_role.capitalize()}: {e(order.target_nick_name)}",
            f"Status: {e(status)}",
            f"Order id: <code>{e(order.id)}</code>",
        ]
    )
