"""The Code-as-Task (CaT) format: one JSON object per line, one programming task per object.

A CaT record (documented in docs/CODETASK.md)::

    {"id": "code/reverse-words",
     "instruction": "Return the words of a sentence in reverse order...",
     "interface": {"entry_point": "reverse_words", "signature": "def reverse_words(text: str) -> str"},
     "verification": "def test_basic(candidate):\\n    assert candidate('a b') == 'b a'\\n...",
     "solution": "def reverse_words(text: str) -> str:\\n    ...",
     "failure_cases": ["<plausible wrong program>", "...", "..."],
     "difficulty": {"level": 1},
     "topic": "strings", "source": "selfgym", "license": "Apache-2.0"}

``verification`` defines one function per check, ``def test_<name>(candidate)``, that asserts on
the candidate callable, so "fraction of checks passed" means something. HumanEval tasks use their
own single ``def check(candidate)`` (``"style": "humaneval"``). Optional fields: ``prelude``
(code placed before every candidate, such as imports the signature needs), ``topic``,
``timeout_s``, ``metadata``.

Inside selfgym a CaT record travels as a ``Task`` with ``family="code"``; ``to_task`` and
``from_task`` convert losslessly. ``structural_problems`` checks everything that can be checked
without running code (the sandboxed part lives in ``validate``).
"""

from __future__ import annotations

import ast
import hashlib
import re
from typing import Any

from selfgym.errors import TaskError
from selfgym.types import Task, iter_jsonl

from selfgym.envs.code.extract import defined_names, parse_code

FAMILY = "code"
MIN_FAILURE_CASES = 3
STYLES = ("tests", "humaneval")
_REQUIRED = ("id", "instruction", "interface", "verification", "solution", "failure_cases")
_OPTIONAL = ("difficulty", "source", "license", "topic", "prelude", "style", "timeout_s", "metadata")
_ID = re.compile(r"^[\w./:-]{1,200}$")


def check_names(verification: str, style: str = "tests") -> list[str]:
    """The check functions a verification defines, in source order.

    ``tests`` style: every top-level ``test_*`` function (and ``check`` if present);
    ``humaneval`` style: ``check``. Raises SyntaxError when the code does not parse.
    """
    tree = parse_code(verification)
    names = list(dict.fromkeys(n.name for n in tree.body if isinstance(n, ast.FunctionDef)))
    if style == "humaneval":
        return [n for n in names if n == "check"]
    return [n for n in names if n.startswith("test_") or n == "check"]


def to_task(record: dict[str, Any]) -> Task:
    """Build a ``Task`` from a CaT record (or pass a Task dict of family "code" through).

    Raises TaskError naming the missing or unknown field.
    """
    if not isinstance(record, dict):
        raise TaskError(f"a CaT record must be a JSON object, got {type(record).__name__}")
    if "family" in record and "payload" in record:
        task = Task.from_dict(record)
        if task.family != FAMILY:
            raise TaskError(f"task {task.id!r} has family {task.family!r}, expected {FAMILY!r}")
        return task
    missing = [k for k in _REQUIRED if k not in record]
    if missing:
        raise TaskError(f"CaT record {record.get('id')!r} is missing field(s) {missing}")
    unknown = sorted(set(record) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise TaskError(f"CaT record {record.get('id')!r} has unknown field(s) {unknown}; "
                        f"allowed: {sorted(_REQUIRED + _OPTIONAL)}")
    interface = record["interface"]
    if not isinstance(interface, dict) or not interface.get("entry_point"):
        raise TaskError(f"CaT record {record['id']!r}: interface must be an object with an entry_point")
    difficulty = dict(record.get("difficulty") or {})
    payload = {
        "entry_point": str(interface["entry_point"]),
        "signature": str(interface.get("signature") or ""),
        "verification": record["verification"],
        "solution": record["solution"],
        "failure_cases": list(record["failure_cases"]),
        "style": record.get("style", "tests"),
        "prelude": record.get("prelude", ""),
    }
    if record.get("timeout_s") is not None:
        payload["timeout_s"] = float(record["timeout_s"])
    metadata = dict(record.get("metadata") or {})
    if record.get("topic"):
        metadata["topic"] = record["topic"]
    return Task(id=str(record["id"]), family=FAMILY, prompt=str(record["instruction"]), payload=payload,
                difficulty=difficulty, source=record.get("source", "selfgym"),
                license=record.get("license"), metadata=metadata)


def from_task(task: Task) -> dict[str, Any]:
    """The CaT record of a code Task (inverse of ``to_task``)."""
    p = task.payload
    record: dict[str, Any] = {
        "id": task.id,
        "instruction": task.prompt,
        "interface": {"entry_point": p["entry_point"], "signature": p.get("signature", "")},
        "verification": p["verification"],
        "solution": p["solution"],
        "failure_cases": list(p.get("failure_cases", [])),
        "difficulty": dict(task.difficulty),
        "source": task.source,
        "license": task.license,
    }
    meta = dict(task.metadata)
    if "topic" in meta:
        record["topic"] = meta.pop("topic")
    if p.get("style", "tests") != "tests":
        record["style"] = p["style"]
    if p.get("prelude"):
        record["prelude"] = p["prelude"]
    if p.get("timeout_s") is not None:
        record["timeout_s"] = p["timeout_s"]
    if meta:
        record["metadata"] = meta
    return record


def load_cat(path: str) -> list[Task]:
    """Load a JSON-lines file of CaT records (or code Task dicts); errors name file and line."""
    tasks = []
    for lineno, row in enumerate(iter_jsonl(path), 1):
        try:
            tasks.append(to_task(row))
        except TaskError as exc:
            raise TaskError(f"{path}: record {lineno}: {exc}") from exc
    return tasks


def fingerprint(task: Task) -> str:
    """A content hash of what makes a task itself (instruction, entry point, verification).

    Two proposals with the same fingerprint are the same task, whatever their ids.
    """
    p = task.payload
    norm = "\x00".join([" ".join(task.prompt.split()), p.get("entry_point", ""), _normalise_code(p.get("verification", ""))])
    return hashlib.sha256(norm.encode("utf-8", errors="replace")).hexdigest()[:16]


def _normalise_code(code: str) -> str:
    try:
        return ast.dump(parse_code(code))
    except (SyntaxError, ValueError, RecursionError):
        return " ".join(code.split())


def candidate_program(task: Task, code: str) -> str:
    """The program actually verified: the task's prelude (if any), then the candidate's code."""
    prelude = task.payload.get("prelude") or ""
    return f"{prelude.rstrip()}\n\n{code}" if prelude.strip() else code


_HUMANEVAL_WRAPPER = """

import random as _selfgym_random
_selfgym_check = check


def check(candidate):
    # HumanEval's checks may call the function by name or draw random inputs: route the name
    # to the candidate and fix the seed, so every call crosses the sandbox boundary the same way.
    globals()[{entry!r}] = candidate
    _selfgym_random.seed(0)
    return _selfgym_check(candidate)
"""


def verification_program(task: Task) -> str:
    """The test code actually run for a task.

    ``tests`` style: the verification as written. ``humaneval`` style: the prompt's prelude
    (imports and helpers its check uses), the problem's test, and a wrapper that binds the
    function's name to the candidate and seeds ``random`` before ``check`` runs.
    """
    p = task.payload
    if p.get("style", "tests") != "humaneval":
        return p["verification"]
    prelude = (p.get("prelude") or "").rstrip()
    return f"{prelude}\n\n{p['verification'].rstrip()}\n" + _HUMANEVAL_WRAPPER.format(entry=p["entry_point"])


def structural_problems(task: Task, min_failure_cases: int = MIN_FAILURE_CASES) -> list[str]:
    """Everything wrong with a code task that can be seen without running it (empty if none).

    Checks the id, instruction, entry point, that the verification parses and defines at least
    one check function taking the candidate, that the solution and every failure case parse and
    define the entry point, that there are at least ``min_failure_cases`` distinct failure cases
    and none is the solution itself.
    """
    problems: list[str] = []
    p = task.payload
    if task.family != FAMILY:
        problems.append(f"family is {task.family!r}, expected {FAMILY!r}")
    if not _ID.match(task.id or ""):
        problems.append(f"id {task.id!r} must be 1-200 characters of letters, digits and ./:-_")
    if not task.prompt or not task.prompt.strip():
        problems.append("the instruction is empty")
    entry = p.get("entry_point")
    if not isinstance(entry, str) or not entry.isidentifier():
        problems.append(f"interface.entry_point {entry!r} is not a Python identifier")
        return problems
    style = p.get("style", "tests")
    if style not in STYLES:
        problems.append(f"style {style!r} is not one of {STYLES}")
    for field_name in ("verification", "solution"):
        if not isinstance(p.get(field_name), str) or not p[field_name].strip():
            problems.append(f"{field_name} is missing or empty")
    if problems:
        return problems
    try:
        names = check_names(p["verification"], style)
        tree = parse_code(p["verification"])
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name in names:
                if len(node.args.args) != 1:
                    problems.append(f"verification: {node.name} must take exactly one argument (the candidate)")
        if not names:
            want = "def check(candidate)" if style == "humaneval" else "def test_<name>(candidate)"
            problems.append(f"verification defines no check function; write at least one `{want}`")
    except SyntaxError as exc:
        problems.append(f"verification has a SyntaxError at line {exc.lineno}: {exc.msg}")
    for label, code in [("solution", p["solution"])] + [
        (f"failure case {i + 1}", c) for i, c in enumerate(p.get("failure_cases") or [])
    ]:
        if not isinstance(code, str):
            problems.append(f"{label} must be a string of code, got {type(code).__name__}")
            continue
        try:
            tree = parse_code(candidate_program(task, code))
        except SyntaxError as exc:
            problems.append(f"{label} has a SyntaxError at line {exc.lineno}: {exc.msg}")
            continue
        if entry not in defined_names(tree):
            problems.append(f"{label} does not define `{entry}`")
    cases = [c for c in (p.get("failure_cases") or []) if isinstance(c, str)]
    distinct = {_normalise_code(c) for c in cases}
    if len(distinct) < min_failure_cases:
        problems.append(f"needs at least {min_failure_cases} distinct failure cases, has {len(distinct)}")
    if _normalise_code(p["solution"]) in distinct:
        problems.append("a failure case is identical to the solution")
    return problems
