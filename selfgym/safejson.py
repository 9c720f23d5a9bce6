"""JSON read from untrusted text (model replies, sandbox output) with size and depth limits.

``json.loads`` recurses once per nesting level and turns long digit runs into ints, so a reply
such as ``[[[[...]]]]`` raises ``RecursionError`` and ``1`` followed by 5,000 digits raises
``ValueError`` (Python's int-string limit). The functions here scan the text first, in one
linear pass that knows JSON strings, and refuse anything longer than ``max_chars`` or nested
deeper than ``max_depth`` before the decoder sees it. They raise only ``JSONError`` (a
``ValueError``), whose message says what was wrong.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["JSONError", "loads", "raw_decode", "balanced_end", "MAX_DEPTH", "MAX_CHARS"]

MAX_DEPTH = 64
MAX_CHARS = 1 << 20

_TOKEN = re.compile(r'[^"{}\[\]]+|"(?:[^"\\]|\\.)*"|[{}\[\]]|"', re.S)
_DECODER = json.JSONDecoder()


class JSONError(ValueError):
    """The text is not JSON we accept (malformed, too long, too deep, a number too long)."""


def balanced_end(text: str, start: int, max_depth: int = MAX_DEPTH, budget: list[int] | None = None) -> int:
    """The index just past the bracket that closes the one at ``text[start]``.

    Strings are skipped as JSON strings. Returns -1 when the region is never closed, holds an
    unterminated string, nests deeper than ``max_depth``, or the shared ``budget`` (a one-item
    list of characters left to scan) runs out. Linear in the characters scanned.
    """
    n = len(text)
    if start >= n or text[start] not in "{[":
        return -1
    depth, pos = 0, start
    while pos < n:
        m = _TOKEN.match(text, pos)
        if m is None:  # unreachable: the pattern's last branch matches any character
            return -1
        tok = m.group()
        if budget is not None:
            budget[0] -= len(tok)
            if budget[0] < 0:
                return -1
        pos = m.end()
        c = tok[0]
        if c in "{[":
            depth += 1
            if depth > max_depth:
                return -1
        elif c in "}]":
            depth -= 1
            if depth == 0:
                return pos
        elif tok == '"':
            return -1  # a string that is never closed
    return -1


def _decode(text: str, what: str) -> Any:
    try:
        value, end = _DECODER.raw_decode(text)
    except json.JSONDecodeError as exc:
        raise JSONError(f"{what} is not valid JSON ({exc.msg} at position {exc.pos})") from None
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        raise JSONError(f"{what} cannot be read: {type(exc).__name__}: {str(exc)[:120]}") from None
    return value, end


def loads(text: Any, *, max_chars: int = MAX_CHARS, max_depth: int = MAX_DEPTH, what: str = "the text") -> Any:
    """``json.loads`` that raises only ``JSONError``, refusing long or deeply nested text."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    if not isinstance(text, str):
        raise JSONError(f"{what} must be a string, got {type(text).__name__}")
    if len(text) > max_chars:
        raise JSONError(f"{what} is {len(text)} characters long; the limit is {max_chars}")
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        end = balanced_end(stripped, 0, max_depth)
        if end == -1:
            raise JSONError(_why_unbalanced(stripped, max_depth, what))
        if stripped[end:].strip():
            raise JSONError(f"{what} has extra data after the JSON value (position {end})")
    value, end = _decode(stripped, what)
    if stripped[end:].strip():
        raise JSONError(f"{what} has extra data after the JSON value (position {end})")
    return value


def raw_decode(text: str, start: int, *, max_depth: int = MAX_DEPTH, budget: list[int] | None = None,
               what: str = "the text") -> tuple[Any, int]:
    """Decode the object or array that starts at ``text[start]``; returns ``(value, end)``."""
    end = balanced_end(text, start, max_depth, budget)
    if end == -1:
        raise JSONError(f"{what}: no complete JSON value at position {start} (unclosed, or nested "
                        f"more than {max_depth} levels deep)")
    value, used = _decode(text[start:end], what)
    return value, start + used


def _why_unbalanced(text: str, max_depth: int, what: str) -> str:
    depth = 0
    for m in _TOKEN.finditer(text):
        c = m.group()[0]
        if c in "{[":
            depth += 1
            if depth > max_depth:
                return f"{what} is nested more than {max_depth} levels deep"
        elif c in "}]":
            depth -= 1
            if depth == 0:
                break
    return f"{what} is not valid JSON (a bracket or string is never closed)"
