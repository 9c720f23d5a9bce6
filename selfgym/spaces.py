"""Text spaces whose members every observation provably lies in.

``text_space(n)`` builds a ``gymnasium.spaces.Text`` over ``CHARSET`` (printable ASCII plus tab
and newline); ``normalize_text(s, n)`` maps *any* string into that space: Unicode is folded to
ASCII where a close letter exists (é -> e, “ -> "), anything else becomes ``?``, and text longer
than ``n`` is cut with a visible marker. Envs pass every observation through it, so
``observation_space.contains(obs)`` always holds.

``TextSpace`` (what ``text_space`` returns) is a ``Text`` space that survives Gymnasium's
``AsyncVectorEnv`` shared memory, the default of ``gymnasium.make_vec(..., "async")``:
Gymnasium reads a ``Text`` buffer once, when the vector env is built, so every later
observation would come back as ``"0" * max_length``. Reading a ``TextSpace`` buffer gives a live
view that decodes the strings the workers wrote, and copies (Gymnasium copies each result) as
a tuple of strings, exactly what the sync vector env returns.
"""

from __future__ import annotations

import string
import unicodedata

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import read_from_shared_memory

CHARSET: str = "".join(c for c in string.printable if c not in "\r\x0b\x0c")
_CHARSET_SET = frozenset(CHARSET)
TRUNCATION_MARKER = "\n...[truncated]"

_FOLD = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2026": "...", "\u00a0": " ",
    "\u2022": "*", "\u00d7": "x", "\u2192": "->", "\r\n": "\n", "\r": "\n",
    "\x0b": "\n", "\x0c": "\n", "\u2264": "<=", "\u2265": ">=", "\u00b7": ".",
}

DEFAULT_OBS_LENGTH = 16_384
DEFAULT_ACTION_LENGTH = 16_384


class TextSpace(spaces.Text):
    """A ``Text`` space whose ``AsyncVectorEnv`` shared memory is read live (module docstring)."""


class _SharedTexts:
    """The strings in a Text shared-memory buffer, decoded on access; copies are tuples."""

    def __init__(self, space: spaces.Text, buffer, n: int):
        self.space, self.buffer, self.n = space, buffer, n

    def _decode(self) -> tuple[str, ...]:
        data = np.frombuffer(self.buffer.get_obj(), dtype=np.int32).reshape((self.n, self.space.max_length))
        chars, limit = self.space.character_list, len(self.space.character_set)
        return tuple("".join(chars[v] for v in row[row < limit]) for row in data)

    def __getitem__(self, index):
        return self._decode()[index]

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        return iter(self._decode())

    def __eq__(self, other) -> bool:
        return self._decode() == (tuple(other) if isinstance(other, (list, tuple, _SharedTexts)) else other)

    def __repr__(self) -> str:
        return repr(self._decode())

    def __copy__(self) -> tuple[str, ...]:
        return self._decode()

    def __deepcopy__(self, memo) -> tuple[str, ...]:
        return self._decode()


@read_from_shared_memory.register(TextSpace)  # pyright: ignore[reportArgumentType]
def _read_live_text(space: TextSpace, shared_memory, n: int = 1) -> _SharedTexts:
    return _SharedTexts(space, shared_memory, n)


def text_space(max_length: int = DEFAULT_OBS_LENGTH, min_length: int = 0) -> TextSpace:
    """A Text space over ``CHARSET`` holding strings of ``min_length`` to ``max_length`` chars."""
    return TextSpace(max_length=max_length, min_length=min_length, charset=CHARSET)


def _fold_char(ch: str) -> str:
    if ch in _CHARSET_SET:
        return ch
    if ch in _FOLD:
        return _FOLD[ch]
    decomposed = unicodedata.normalize("NFKD", ch)
    kept = "".join(c for c in decomposed if c in _CHARSET_SET)
    return kept if kept else "?"


def normalize_text(text: object, max_length: int = DEFAULT_OBS_LENGTH) -> str:
    """Map any value to a string inside ``text_space(max_length)``.

    Bytes are decoded as UTF-8 with replacement; other objects go through ``str``. The result
    contains only ``CHARSET`` characters and is at most ``max_length`` long (a cut keeps the
    head and ends with ``TRUNCATION_MARKER``).
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    elif not isinstance(text, str):
        text = str(text)
    text = text.replace("\r\n", "\n")
    if not _CHARSET_SET.issuperset(text):
        text = "".join(_fold_char(c) for c in text)
    if len(text) > max_length:
        if max_length > len(TRUNCATION_MARKER) * 2:
            text = text[: max_length - len(TRUNCATION_MARKER)] + TRUNCATION_MARKER
        else:
            text = text[:max_length]
    return text


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters with a marker saying how much was dropped."""
    if len(text) <= limit:
        return text
    note = f"\n...[{len(text) - limit} more characters]"
    return text[: max(0, limit - len(note))] + note
