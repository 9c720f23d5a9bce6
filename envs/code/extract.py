"""Getting Python code out of an agent's reply, and checking it before anything runs.

Agents answer in free text: a bare program, one or more markdown fences (```python, ```py,
``` or ~~~), prose around them, sometimes a fence cut off by a token limit. ``extract_code``
returns the code to verify and says how it found it; ``precheck`` parses it on the host
(``ast.parse`` only: nothing is executed here) so a syntax error or a missing entry point becomes
feedback without a trip to the sandbox.
"""

from __future__ import annotations

import ast
import re
import threading
from dataclasses import dataclass

_FENCE = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+.#-]*)[^\n]*\n(?P<body>.*?)(?:^[ \t]*(?P=fence)[ \t]*$|\Z)",
    re.MULTILINE | re.DOTALL,
)
_PY_LANGS = {"", "python", "python3", "py", "py3", "python3.12", "python3.11"}
_CODE_START = re.compile(r"^(?:def |async def |class |import |from |@|[A-Za-z_][\w]*\s*=)", re.MULTILINE)


_PARSE_LOCK = threading.Lock()


def parse_code(code: str) -> ast.Module:
    """``ast.parse`` made safe to call from many threads.

    CPython 3.11 keeps the AST converter's recursion counter per process, so two threads
    parsing at once can fail with ``SystemError: AST constructor recursion depth mismatch``.
    Parses here take a lock, and a SystemError (never a property of the code) is retried once.
    """
    with _PARSE_LOCK:
        try:
            return ast.parse(code)
        except SystemError:
            return ast.parse(code)


@dataclass
class Extraction:
    """The code found in a reply.

    ``code`` is empty when none was found; ``method`` says where it came from (``"fence"``,
    ``"raw"``, ``"trimmed"`` or ``"none"``); ``note`` explains a repair (lone surrogates
    replaced, an unclosed fence taken to the end).
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


def _defines(code: str, entry_point: str | None) -> bool:
    if not entry_point:
        return False
    try:
        return entry_point in defined_names(parse_code(code))
    except (SyntaxError, ValueError):
        return re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(entry_point)}\s*\(", code, re.MULTILINE) is not None


def extract_code(text: str, entry_point: str | None = None) -> Extraction:
    """Find the code in ``text``.

    Fenced blocks win: among Python (or unlabelled) fences, the last one that defines
    ``entry_point``, else the last one. An unclosed fence runs to the end of the text. Without
    fences, the whole text if it parses, else the text from the first line that looks like
    code (``def``, ``class``, ``import``...). Never raises.
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text, note = _sanitise(text.replace("\r\n", "\n"))
    blocks = []
    for m in _FENCE.finditer(text):
        lang = m.group("lang").lower()
        if lang in _PY_LANGS:
            blocks.append(m.group("body"))
    blocks = [b for b in blocks if b.strip()]
    if blocks:
        chosen = next((b for b in reversed(blocks) if _defines(b, entry_point)), blocks[-1])
        return Extraction(chosen.strip("\n") + "\n", "fence", note)
    stripped = text.strip()
    if not stripped:
        return Extraction("", "none", note)
    try:
        parse_code(stripped)
        if _CODE_START.search(stripped):
            return Extraction(stripped + "\n", "raw", note)
    except (SyntaxError, ValueError):
        pass
    m = _CODE_START.search(text)
    if m:
        return Extraction(text[m.start():].strip("\n") + "\n", "trimmed", note)
    return Extraction("", "none", note)


def precheck(code: str, entry_point: str) -> str | None:
    """A reason the code cannot pass, found without running it, or None.

    Reports an empty answer, a syntax error (with line and the offending text) and a missing
    definition of ``entry_point``.
    """
    if not code.strip():
        return "no code found in the answer; put the solution in a ```python code block"
    try:
        tree = parse_code(code)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" if exc.lineno else "somewhere"
        line = (exc.text or "").rstrip()
        shown = f": {line.strip()!r}" if line else ""
        return f"SyntaxError at {where}: {exc.msg}{shown}"
    except ValueError as exc:  # e.g. null bytes
        return f"the code cannot be parsed: {exc}"
    if entry_point not in defined_names(tree):
        return f"the code does not define `{entry_point}`"
    return None
