"""Telegram's HTML subset, checked and stripped as TDLib's ``parse_html`` does."""

from __future__ import annotations

from typing import Final

from bridge.sandbox.fake_telegram._params import _bad
from bridge.sandbox.fake_telegram.constants import MAX_RAW_TEXT_BYTES

_PARSE_MODES = frozenset({"html", "markdown", "markdownv2"})
# Telegram's HTML subset, as TDLib's parse_html (td/telegram/MessageEntity.cpp) reads it.
_HTML_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler", "tg-emoji", "tg-time", "span"}
    | {"pre", "code", "blockquote"}
)
_HTML_NAMED: Final = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}
_SPACES: Final = b" \t\r\n\v\x00"  # TDLib's is_space; NUL also stands for the end of the input
_NAME_STOPS: Final = _SPACES + b"=>/\"'"
_TOKEN_CHARS: Final = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
_DIGITS: Final = {10: frozenset(b"0123456789"), 16: frozenset(b"0123456789abcdefABCDEF")}


def _decode_html_entity(data: bytes, pos: int) -> tuple[str, int] | None:
    """The character ``&…`` at ``pos`` stands for and where it ends; ``None`` leaves the ``&`` as it is.

    As TDLib's ``decode_html_entity``: ``&lt; &gt; &amp; &quot;`` and ``&#N;``/``&#xH;``, the ``;`` optional.
    """
    end = pos + 1
    if data[end : end + 1] == b"#":
        end += 1
        base = 10
        if data[end : end + 1] == b"x":
            base, end = 16, end + 1
        first = end
        while end < len(data) and data[end] in _DIGITS[base]:
            end += 1
        code = int(data[first:end], base) if end > first else 0
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return None
        char = chr(code)
    else:
        first = end
        while end < len(data) and 0x61 <= (data[end] | 0x20) <= 0x7A:  # ASCII letter
            end += 1
        if (named := _HTML_NAMED.get(data[first:end])) is None:
            return None
        char = named
    return char, end + (data[end : end + 1] == b";")


def _is_emoji_id(argument: bytes) -> bool:
    """Whether ``emoji-id`` is a non-zero int64 written plainly (TDLib's ``to_integer_safe``)."""
    try:
        value = int(argument)
    except ValueError:
        return False
    return value != 0 and str(value).encode() == argument and -(2**63) <= value < 2**63


class _HtmlParser:
    """TDLib's ``parse_html`` (td/telegram/MessageEntity.cpp) ported: the text it keeps, or why it refuses.

    Telegram is lenient in places: a ``&`` that starts no known entity stays as it is, unknown attributes are
    ignored and ``</>`` closes the innermost tag; but every ``<`` opens a tag, so a bare ``<`` is an
    "Unsupported start tag". Offsets in the reasons are byte offsets into the UTF-8 text.
    """

    def __init__(self, raw: str) -> None:
        self._data = raw.encode()
        self._pos = 0
        self._out = bytearray()
        self._open: list[tuple[str, bytes, int]] = []  # tag, argument, output length where it started

    def parse(self) -> str:
        """The text without tags and with entities decoded; ``ValueError`` carries Telegram's reason."""
        data = self._data
        while self._pos < len(data):
            byte = data[self._pos]
            if byte == 0x26 and (entity := _decode_html_entity(data, self._pos)) is not None:  # &
                char, self._pos = entity
                self._out += char.encode("utf-8", "surrogatepass")
            elif byte != 0x3C:  # <
                self._out.append(byte)
                self._pos += 1
            elif data[self._pos + 1 : self._pos + 2] == b"/":
                self._end_tag()
            else:
                self._start_tag()
        if self._open:
            raise ValueError(f'Can\'t find end tag corresponding to start tag "{self._open[-1][0]}"')
        try:
            return self._out.decode()
        except UnicodeDecodeError:
            raise ValueError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            ) from None

    def _at(self, i: int) -> int:
        return self._data[i] if i < len(self._data) else 0

    def _skip_spaces(self, i: int) -> int:
        while self._at(i) and self._at(i) in _SPACES:
            i += 1
        return i

    def _skip_to_space_or_gt(self, i: int) -> int:
        while self._at(i) not in _SPACES and self._at(i) != 0x3E:  # >
            i += 1
        return i

    def _name(self, first: int, end: int) -> str:
        return self._data[first:end].lower().decode(errors="replace")

    def _start_tag(self) -> None:
        begin = self._pos
        i = self._skip_to_space_or_gt(begin + 1)
        if self._at(i) == 0:
            raise ValueError(f"Unclosed start tag at byte offset {begin}")
        tag = self._name(begin + 1, i)
        if tag not in _HTML_TAGS:
            raise ValueError(f'Unsupported start tag "{tag}" at byte offset {begin}')
        argument = b""
        while self._at(i) != 0x3E:
            i = self._skip_spaces(i)
            if self._at(i) == 0x3E:
                break
            i, name, value = self._attribute(i, tag, begin)
            if tag == "span" and name == b"class" and value is not None and value.startswith(b"tg-"):
                argument = value[3:]
            elif tag == "tg-emoji" and name == b"emoji-id" and value is not None:
                argument = value
        if tag == "span" and argument != b"spoiler":
            raise ValueError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
        self._open.append((tag, argument, len(self._out)))
        self._pos = i + 1

    def _attribute(self, i: int, tag: str, begin: int) -> tuple[int, bytes, bytes | None]:
        """One ``name[=value]`` from ``i``: where it ends, its name, and its value (``None`` without ``=``)."""
        first = i
        while self._at(i) not in _NAME_STOPS:
            i += 1
        name = self._data[first:i]
        if not name:
            raise ValueError(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
        i = self._skip_spaces(i)
        if self._at(i) != 0x3D:  # =
            if self._at(i) == 0:
                raise ValueError(f'Unclosed start tag "{tag}" at byte offset {begin}')
            return i, name, None
        i = self._skip_spaces(i + 1)
        if self._at(i) == 0:
            raise ValueError(f'Unclosed start tag "{tag}" at byte offset {begin}')
        if self._at(i) in b"\"'":
            i, value = self._quoted(i)
        else:
            token = i
            while self._at(i) in _TOKEN_CHARS:
                i += 1
            value = self._data[token:i].lower()
            if self._at(i) not in _SPACES and self._at(i) != 0x3E:
                raise ValueError(f"Unexpected end of name token at byte offset {token}")
        if self._at(i) == 0:
            raise ValueError(f"Unclosed start tag at byte offset {begin}")
        return i, name, value

    def _quoted(self, i: int) -> tuple[int, bytes]:
        quote = self._at(i)
        i += 1
        value = bytearray()
        while self._at(i) not in (quote, 0):
            if self._at(i) == 0x26 and (entity := _decode_html_entity(self._data, i)) is not None:
                char, i = entity
                value += char.encode("utf-8", "surrogatepass")
                continue
            value.append(self._at(i))
            i += 1
        return i + (self._at(i) == quote), bytes(value)

    def _end_tag(self) -> None:
        begin = self._pos
        if not self._open:
            raise ValueError(f"Unexpected end tag at byte offset {begin}")
        i = self._skip_to_space_or_gt(begin + 1)
        end_tag = self._name(begin + 2, i)
        i = self._skip_spaces(i)
        if self._at(i) != 0x3E:
            raise ValueError(f"Unclosed end tag at byte offset {begin}")
        tag, argument, start = self._open.pop()
        if end_tag and end_tag != tag:
            raise ValueError(f'Unmatched end tag at byte offset {begin}, expected "</{tag}>", found "</{end_tag}>"')
        if tag == "tg-emoji" and len(self._out) > start and not _is_emoji_id(argument):
            raise ValueError("Invalid custom emoji identifier specified")
        self._pos = i + 1


def _plain_text(raw: str, parse_mode: str | None) -> str:
    """What Telegram would display: HTML is checked and stripped; other parse modes are taken as is.

    Errors as in ``Client::get_formatted_text`` and TDLib's ``parseTextEntities``.
    """
    if len(raw.encode()) > MAX_RAW_TEXT_BYTES:
        raise _bad("text is too long")
    mode = (parse_mode or "none").lower()
    if mode == "none":
        return raw
    if mode not in _PARSE_MODES:
        raise _bad("unsupported parse_mode")
    if mode != "html":
        return raw
    try:
        return _HtmlParser(raw).parse()
    except ValueError as exc:
        raise _bad(f"can't parse entities: {exc}") from None
