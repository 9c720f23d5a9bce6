"""Showing text the env does not control (what a candidate produced) inside an observation.

An observation mixes the env's own lines ("All 3 checks passed.", "Correct.", "Customer: ...")
with text that a model influenced: its program's exception messages and returned values, tool
results built from its arguments, a simulated user's words. A policy trained on the reward will
find any way to make that text look like the env's own lines, so it is only ever shown through
these helpers:

- ``clean(text, limit)``: control and format characters removed (tabs become spaces; a newline
  is kept only where the caller asks for lines), length bounded, with a visible cut marker.
- ``inline(text, limit)``: one line. Line breaks and other control characters are shown as
  escapes (``\\n``, ``\\x1b``), so the text can never start a line of its own.
- ``quote(text, limit)``: a block in which every line starts with ``QUOTE_PREFIX`` (``"| "``).
  No line the env writes starts with that prefix, so a quoted line cannot pass for one of them.
- ``labelled(label, text)``: ``"<label> <text>"`` when the text is one short line (the common
  case, kept compact), else the label on its own line followed by the quoted block.

Everything here is a total function: any input (not a string, huge, binary, lone surrogates)
gives a bounded string, in time linear in ``limit`` plus the part of the input that is read.
"""

from __future__ import annotations

import unicodedata

__all__ = ["QUOTE_PREFIX", "clean", "inline", "quote", "labelled", "INLINE_LIMIT", "BLOCK_LIMIT"]

QUOTE_PREFIX = "| "
INLINE_LIMIT = 300
BLOCK_LIMIT = 2000
MAX_LINES = 60
_READ_FACTOR = 4  # read at most this many times the limit before cleaning (controls are dropped)

# Characters that break a line in some renderer (str.splitlines, a terminal, a chat template).
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value[: 1 << 20]).decode("utf-8", errors="replace")
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a value whose __str__ fails is shown by its type
        return f"<{type(value).__name__} value>"


def _cut(text: str, limit: int, total: int, complete: bool) -> str:
    """``text`` if it fits in ``limit`` and nothing was left unread, else cut with a marker."""
    if complete and len(text) <= limit:
        return text
    marker = f" ...[cut: {total} characters in all]"
    return text[: max(0, limit - len(marker))] + marker


def _unsafe(ch: str) -> bool:
    """A control, format, surrogate, private or unassigned character, or a line/paragraph separator."""
    cat = unicodedata.category(ch)
    return cat[0] == "C" or cat in ("Zl", "Zp")


def clean(text: object, limit: int = BLOCK_LIMIT, *, keep_newlines: bool = False) -> str:
    """``text`` without control characters, at most ``limit`` characters (see the module doc).

    Tabs become a space; with ``keep_newlines`` every line break (``\\r\\n``, ``\\r``, U+2028...)
    becomes ``\\n``, otherwise a space.
    """
    text = _text(text)
    total = len(text)
    text = text[: max(0, limit) * _READ_FACTOR + 8]
    out = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\r" and i + 1 < n and text[i + 1] == "\n":
            i += 1
            continue
        if ch in _LINE_BREAKS:
            out.append("\n" if keep_newlines else " ")
        elif ch == "\t":
            out.append(" ")
        elif ch.isprintable() or not _unsafe(ch):
            out.append(ch)
        i += 1
    return _cut("".join(out), limit, total, total == n)


def inline(text: object, limit: int = INLINE_LIMIT) -> str:
    """``text`` as part of one line: escapes for line breaks and controls, bounded."""
    text = _text(text)
    total = len(text)
    text = text[: max(0, limit) * _READ_FACTOR + 8]
    out = []
    for ch in text:
        if ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append(" ")
        elif ch in _LINE_BREAKS or _unsafe(ch):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    return _cut("".join(out), limit, total, total == len(text))


def quote(text: object, limit: int = BLOCK_LIMIT, *, max_lines: int = MAX_LINES) -> str:
    """``text`` as a block whose every line starts with ``QUOTE_PREFIX`` (at least one line)."""
    body = clean(text, limit, keep_newlines=True)
    lines = body.split("\n")
    if len(lines) > max_lines:
        lines = lines[:max_lines] + [f"...[{len(lines) - max_lines} more lines cut]"]
    return "\n".join(QUOTE_PREFIX + line.rstrip() for line in lines)


def labelled(label: str, text: object, limit: int = BLOCK_LIMIT, *, one_line: int = INLINE_LIMIT) -> str:
    """``label`` followed by quoted ``text``: on the same line when it is one short line.

    ``labelled("Customer:", "Hi")`` is ``"Customer: Hi"``; a text with line breaks (or longer
    than ``one_line``) gives ``"Customer:"`` then the text as a ``quote`` block.
    """
    body = clean(text, limit, keep_newlines=True)
    if "\n" not in body and len(body) <= one_line:
        return f"{label} {body}" if body else label
    return f"{label}\n{quote(body, limit + 64)}"
