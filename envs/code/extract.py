"""Getting Python code out of an agent's reply, and checking it before anything runs.

Agents answer in free text: a bare program, one or more markdown fences (```python, ```py,
``` or ~~~), prose around them, sometimes a fence cut off by a token limit. ``extract_code``
returns the code to verify and says how it found it; ``precheck`` parses it on the host
(``ast.parse`` only: nothing is executed here) so a syntax error or a missing entry point becomes
feedback without a trip to the sandbox.

Both are total functions of the reply: any text (huge, binary, deeply nested, long runs of
backticks) gives an answer, in time linear in its length. Fences are found line by line, never
by a regular expression over the whole reply; ``parse_code`` turns every way ``ast.parse`` can
fail (``RecursionError``, ``MemoryError``, NUL bytes, size) into a ``SyntaxError`` that names
a line.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from selfgym import pyparse
from selfgym.quoting import inline, quote

_OPENER = re.compile(r"[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+.#-]*)")
_PY_LANGS = {"", "python", "python3", "py", "py3", "python3.12", "python3.11"}
_CODE_START = re.compile(r"^(?:def |async def |class |import |from |@|[A-Za-z_]\w*[ \t]*=)", re.MULTILINE)

#: Replies longer than this are not searched for code (the env caps the code itself lower).
MAX_REPLY_CHARS = 2_000_000
#: Code longer than this is not parsed on the host (parsing costs about 3 microseconds a character).
MAX_PARSE_CHARS = 120_000
#: Characters of fenced blocks parsed while choosing one (the rest are matched by a pattern).
PARSE_BUDGET = 200_000



def _line(code: str, lineno: int) -> str:
    """Line ``lineno`` (1-based) of ``code``, at most 400 characters of it."""
    start = 0
    for _ in range(max(0, lineno - 1)):
        start = code.find("\n", start)
        if start == -1:
            return ""
        start += 1
    end = code.find("\n", start)
    return code[start:end if end != -1 else len(code)][:400]


def _error(msg: str, code: str, lineno: int = 1, offset: int | None = 1) -> SyntaxError:
    return SyntaxError(msg, ("<code>", lineno, offset, _line(code, lineno), lineno, offset))


def parse_code(code: str) -> ast.Module:
    """``ast.parse`` that raises nothing but ``SyntaxError`` (always with a line), from any thread.

    Code longer than ``MAX_PARSE_CHARS``, a NUL character and nesting deeper than the parser
    allows (it raises ``RecursionError`` or ``MemoryError``) all become SyntaxErrors. A tree that
    parses may still be too deep for recursive walkers (``ast.dump``, ``compile``): callers that
    walk it recursively catch ``RecursionError``. Parsing goes through ``selfgym.pyparse`` (safe
    from any thread); a parser SystemError that survives its retry is never a property of the code.
    """
    if not isinstance(code, str):
        raise _error(f"code must be text, got {type(code).__name__}", "")
    if len(code) > MAX_PARSE_CHARS:
        raise _error(f"the code is {len(code)} characters long; at most {MAX_PARSE_CHARS} are parsed", code)
    nul = code.find("\0")
    if nul != -1:
        lineno = code.count("\n", 0, nul) + 1
        raise _error("the code contains a NUL character", code, lineno, nul - (code.rfind("\n", 0, nul) + 1) + 1)
    try:
        tree = pyparse.parse(code)
    except SyntaxError as exc:
        if not exc.lineno:  # a few parser errors carry no position: point at the last line
            last = code.count("\n") + 1
            exc.lineno, exc.offset, exc.text = last, None, _line(code, last)
        raise
    except SystemError:
        raise _error("the code could not be parsed (the parser failed; try again)", code) from None
    except (RecursionError, MemoryError):
        raise _error("the code is nested too deeply for Python's parser", code) from None
    except (ValueError, OverflowError) as exc:
        raise _error(f"the code cannot be parsed: {inline(exc, 200)}", code) from None
    return tree


@dataclass
class Extraction:
    """The code found in a reply.

    ``code`` is empty when none was found; ``method`` says where it came from (``"fence"``,
    ``"raw"``, ``"trimmed"`` or ``"none"``); ``note`` explains a repair (lone surrogates
    replaced, an unclosed fence taken to the end) or why the reply was not read.
    """

    code: str
    method: str
    note: str | None = None


def _sanitise(text: str) -> tuple[str, str | None]:
    """Replace characters that cannot be encoded as UTF-8 (lone surrogates) with ``?``."""
    try:
        text.encode("utf-8")
        return text, None
    except UnicodeEncodeError:
        fixed = text.encode("utf-8", errors="replace").decode("utf-8")
        return fixed, "the reply contained characters that are not valid UTF-8; they were replaced with '?'"


def defined_names(tree: ast.Module) -> set[str]:
    """Top-level names a module binds (functions, classes, assignments, imports)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        names.add(n.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add((alias.asname or alias.name).split(".")[0])
    return names


def _defines(code: str, entry_point: str | None, budget: list[int]) -> bool:
    """Whether ``code`` defines ``entry_point``: parsed while ``budget`` lasts, else by a pattern."""
    if not entry_point:
        return False
    try:
        if len(code) > budget[0]:
            raise SyntaxError("over the parse budget")
        budget[0] -= len(code)
        return entry_point in defined_names(parse_code(code))
    except SyntaxError:
        pattern = rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(entry_point)}[ \t]*\("
        return re.search(pattern, code, re.MULTILINE) is not None


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """Every fenced block of ``text`` as ``(language, body)``, in order; one pass over the lines.

    A fence is a line of three or more backticks or tildes (optionally indented, then a
    language word); the block ends at a line holding the same fence alone, or at the end of the
    text when it is never closed. A fence on the text's last line opens nothing.
    """
    lines = text.split("\n")
    blocks: list[tuple[str, str]] = []
    i, n = 0, len(lines)
    while i < n - 1:  # an opener needs a line after it
        m = _OPENER.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang = m.group("fence"), m.group("lang").lower()
        j = i + 1
        while j < n and lines[j].strip(" \t") != fence:
            j += 1
        closed = j < n
        body = "\n".join(lines[i + 1:j]) + ("\n" if closed else "")
        blocks.append((lang, body))
        i = j + 1
    return blocks


def extract_code(text: str, entry_point: str | None = None) -> Extraction:
    """Find the code in ``text``.

    Fenced blocks win: among Python (or unlabelled) fences, the last one that defines
    ``entry_point``, else the last one. An unclosed fence runs to the end of the text. Without
    fences, the whole text if it parses, else the text from the first line that looks like
    code (``def``, ``class``, ``import``...). Replies longer than ``MAX_REPLY_CHARS`` are not
    read. Never raises.
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    elif not isinstance(text, str):
        text = "" if text is None else str(text)
    if len(text) > MAX_REPLY_CHARS:
        return Extraction("", "none", f"the reply is {len(text)} characters long; replies over "
                                      f"{MAX_REPLY_CHARS} characters are not read")
    text, note = _sanitise(text.replace("\r\n", "\n"))
    blocks = [body for lang, body in fenced_blocks(text) if lang in _PY_LANGS and body.strip()]
    if blocks:
        budget = [PARSE_BUDGET]
        chosen = next((b for b in reversed(blocks) if _defines(b, entry_point, budget)), blocks[-1])
        return Extraction(chosen.strip("\n") + "\n", "fence", note)
    stripped = text.strip()
    if not stripped:
        return Extraction("", "none", note)
    try:
        parse_code(stripped)
        if _CODE_START.search(stripped):
            return Extraction(stripped + "\n", "raw", note)
    except SyntaxError:
        pass
    m = _CODE_START.search(text)
    if m:
        return Extraction(text[m.start():].strip("\n") + "\n", "trimmed", note)
    return Extraction("", "none", note)


def describe_syntax_error(exc: SyntaxError, code: str) -> str:
    """``SyntaxError at line 3, column 9: <message>`` and the line itself with a caret, quoted.

    The line is the candidate's text, so it is shown as a quoted block (``selfgym.quoting``).
    """
    lineno = exc.lineno if isinstance(exc.lineno, int) and exc.lineno > 0 else code.count("\n") + 1
    offset = exc.offset if isinstance(exc.offset, int) and exc.offset > 0 else None
    where = f"line {lineno}" + (f", column {offset}" if offset else "")
    head = f"SyntaxError at {where}: {inline(exc.msg or 'invalid syntax', 200)}"
    line = _line(code, lineno).replace("\t", " ")
    if not line.strip():
        return head
    shown = line[:160]
    caret = ""
    if offset and offset <= len(shown) + 1:
        caret = "\n" + " " * (offset - 1) + "^"
    return f"{head}\n{quote(shown + caret, 400)}"


def precheck(code: str, entry_point: str) -> str | None:
    """A reason the code cannot pass, found without running it, or None. Never raises.

    Reports an empty answer, a syntax error (with its line, column and the line itself, quoted)
    and a missing definition of ``entry_point``.
    """
    if not isinstance(code, str) or not code.strip():
        return "no code found in the answer; put the solution in a ```python code block"
    try:
        tree = parse_code(code)
    except SyntaxError as exc:
        return describe_syntax_error(exc, code)
    if entry_point not in defined_names(tree):
        return f"the code does not define `{entry_point}`"
    return None
