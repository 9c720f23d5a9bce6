"""Cipher domain: encoding and decoding messages (Caesar, Atbash, reversal, Base64, Morse)."""

from __future__ import annotations

import base64
import binascii
import string

import numpy as np

from selfgym.tools import ToolError, ToolSet

NAME = "cipher"
DESCRIPTION = "message encoding and decoding"

MORSE = {
    "A": ".-", "B": "-...", "C": "-.-.", "D": "-..", "E": ".", "F": "..-.", "G": "--.", "H": "....",
    "I": "..", "J": ".---", "K": "-.-", "L": ".-..", "M": "--", "N": "-.", "O": "---", "P": ".--.",
    "Q": "--.-", "R": ".-.", "S": "...", "T": "-", "U": "..-", "V": "...-", "W": ".--", "X": "-..-",
    "Y": "-.--", "Z": "--..", "0": "-----", "1": ".----", "2": "..---", "3": "...--", "4": "....-",
    "5": ".....", "6": "-....", "7": "--...", "8": "---..", "9": "----.",
}
_FROM_MORSE = {v: k for k, v in MORSE.items()}
WORDS = ("amber", "bridge", "candle", "desert", "eagle", "forest", "garden", "harbor", "island", "jungle",
         "kettle", "lantern", "meadow", "needle", "orange", "pepper", "quartz", "river", "silver", "timber",
         "violet", "willow", "yellow", "zebra", "north", "south", "midnight", "signal", "copper", "falcon")


def _shift(text: str, k: int) -> str:
    out = []
    for ch in text:
        for alphabet in (string.ascii_lowercase, string.ascii_uppercase):
            if ch in alphabet:
                ch = alphabet[(alphabet.index(ch) + k) % 26]
                break
        out.append(ch)
    return "".join(out)


def caesar_shift(text: str, shift: int) -> str:
    """Shift every letter shift places along the alphabet (wrapping; negative shifts go back).

    Args:
        text: the text; case is kept and non-letters are left alone.
        shift: places to shift, e.g. 3 (A -> D) or -3 (D -> A).
    """
    return _shift(text, shift)


def atbash(text: str) -> str:
    """Mirror every letter in the alphabet (A <-> Z, B <-> Y, ...); applying it twice gives the text back.

    Args:
        text: the text; case is kept and non-letters are left alone.
    """
    lo, up = string.ascii_lowercase, string.ascii_uppercase
    return text.translate(str.maketrans(lo + up, lo[::-1] + up[::-1]))


def reverse_text(text: str) -> str:
    """The text written backwards.

    Args:
        text: the text.
    """
    return text[::-1]


def base64_encode(text: str) -> str:
    """Base64 (standard alphabet, with padding) of the text's UTF-8 bytes.

    Args:
        text: the text.
    """
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def base64_decode(data: str) -> str:
    """Decode standard Base64 into UTF-8 text.

    Args:
        data: the Base64 string.
    """
    try:
        return base64.b64decode(data.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ToolError(f"not valid Base64 of UTF-8 text ({exc})") from None


def morse_encode(text: str) -> str:
    """International Morse code: letters separated by one space, words by " / ".

    Args:
        text: letters, digits and spaces.
    """
    words = []
    for word in text.upper().split():
        bad = [c for c in word if c not in MORSE]
        if bad:
            raise ToolError(f"cannot encode {bad[0]!r} in Morse; use letters, digits and spaces")
        words.append(" ".join(MORSE[c] for c in word))
    return " / ".join(words)


def morse_decode(code: str) -> str:
    """Decode Morse code (letters separated by spaces, words by " / ") into lowercase text.

    Args:
        code: the Morse code.
    """
    words = []
    for word in code.strip().split("/"):
        letters = []
        for sym in word.split():
            if sym not in _FROM_MORSE:
                raise ToolError(f"{sym!r} is not a Morse letter")
            letters.append(_FROM_MORSE[sym])
        words.append("".join(letters).lower())
    return " ".join(w for w in words if w)


def count_letters(text: str, letters: str) -> int:
    """How many characters of text are among letters (case-insensitive), e.g. letters="aeiou" counts vowels.

    Args:
        text: the text to scan.
        letters: the set of letters to count.
    """
    wanted = set(letters.lower())
    return sum(1 for ch in text.lower() if ch in wanted)


def toolset() -> ToolSet:
    return ToolSet([caesar_shift, atbash, reverse_text, base64_encode, base64_decode, morse_encode,
                    morse_decode, count_letters])


# ------------------------------------------------------------------------------ templates
def _phrase(rng: np.random.Generator, n: int = 3) -> str:
    return " ".join(WORDS[int(i)] for i in rng.choice(len(WORDS), size=n, replace=False))


def caesar_base64(rng: np.random.Generator, call) -> tuple[str, str, str]:
    secret, k = _phrase(rng), int(rng.integers(1, 26))
    encoded = base64_encode(_shift(secret, k))
    answer = call("caesar_shift", text=call("base64_decode", data=encoded), shift=-k)
    prompt = (f"A phrase was Caesar-shifted forward by {k} and then Base64-encoded, giving {encoded}. "
              "What is the original phrase?")
    return prompt, answer, "text"


def layered_encode(rng: np.random.Generator, call) -> tuple[str, str, str]:
    secret = _phrase(rng, 2)
    answer = call("base64_encode", text=call("atbash", text=call("reverse_text", text=secret)))
    prompt = (f"Encode the phrase '{secret}' as follows: write it backwards, apply Atbash, then Base64-encode "
              "the result. What is the final Base64 string?")
    return prompt, answer, "exact"


def morse_caesar(rng: np.random.Generator, call) -> tuple[str, str, str]:
    secret, k = _phrase(rng, 2), int(rng.integers(1, 26))
    code = morse_encode(_shift(secret, k))
    answer = call("caesar_shift", text=call("morse_decode", code=code), shift=-k)
    prompt = (f"This Morse message was made from a phrase Caesar-shifted forward by {k}: {code} . "
              "Decode it and undo the shift. What is the phrase?")
    return prompt, answer, "text"


def vowel_count(rng: np.random.Generator, call) -> tuple[str, int, str]:
    secret = _phrase(rng, 4)
    encoded = base64_encode(atbash(secret))
    plain = call("atbash", text=call("base64_decode", data=encoded))
    answer = call("count_letters", text=plain, letters="aeiou")
    prompt = (f"The string {encoded} is the Base64 encoding of an Atbash-enciphered phrase. How many vowels "
              "(a, e, i, o, u) does the original phrase contain?")
    return prompt, answer, "number"


def morse_of_decoded(rng: np.random.Generator, call) -> tuple[str, str, str]:
    secret = _phrase(rng, 2)
    reversed_b64 = base64_encode(secret[::-1])
    plain = call("reverse_text", text=call("base64_decode", data=reversed_b64))
    answer = call("morse_encode", text=plain)
    prompt = (f"Decode the Base64 string {reversed_b64}, reverse the text you get, and give that phrase in "
              "Morse code (letters separated by spaces, words by ' / ').")
    return prompt, answer, "exact"


TEMPLATES = [caesar_base64, layered_encode, morse_caesar, vowel_count, morse_of_decoded]
