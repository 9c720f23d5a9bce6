"""Reading a challenger's proposed task, and writing tasks in the same form for its brief.

A proposal is either tagged sections (what the brief shows)::

    <instruction>Return the sum of the even numbers in a list.</instruction>
    <signature>def sum_even(xs: list[int]) -> int</signature>
    <solution>```python ... ```</solution>
    <verification>```python
    def test_basic(candidate):
        assert candidate([1, 2, 4]) == 6
    ```</verification>
    <failure_case>```python ... ```</failure_case>   (three or more)

or one JSON object holding a CaT record (``instruction``, ``interface`` or ``entry_point`` +
``signature``, ``verification``, ``solution``, ``failure_cases``), bare or in a ```json fence.
``parse_proposal`` returns a code Task, or raises ProposalError saying what is missing.
"""

from __future__ import annotations

import re
from typing import Any

from selfgym import safejson
from selfgym.types import Task

from selfgym.envs.code.extract import extract_code
from selfgym.envs.code.taskformat import FAMILY, fingerprint

_TAG_NAMES = ("instruction", "entry_point", "signature", "solution", "verification", "failure_case")
_TAG = re.compile(r"<(/?)(" + "|".join(_TAG_NAMES) + r")>")
_FENCE_LEAD = re.compile(r"(?:json)?\s*\n(?=\{)")


def _tagged(text: str) -> list[tuple[str, str]]:
    """Every ``<name>body</name>`` section in order, as a non-greedy regex with a back-reference
    would find them, in linear time (each opening tag's close is found by bisection)."""
    opens, closes = [], {name: [] for name in _TAG_NAMES}
    for m in _TAG.finditer(text):
        if m.group(1):
            closes[m.group(2)].append(m)
        else:
            opens.append(m)
    out, pos = [], 0
    for m in opens:
        if m.start() < pos:
            continue
        ends = closes[m.group(2)]
        k = _first_after(ends, m.end())
        if k < len(ends):
            out.append((m.group(2), text[m.end():ends[k].start()]))
            pos = ends[k].end()
    return out


def _first_after(matches: list, pos: int) -> int:
    lo, hi = 0, len(matches)
    while lo < hi:
        mid = (lo + hi) // 2
        if matches[mid].start() < pos:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _json_fence(text: str) -> str | None:
    """The ``{...}`` of the first ```json fence (```, optional "json", a newline, then an object
    up to the first ``}`` that is followed by a closing ```), in linear time."""
    fences = [m.start() for m in re.finditer("(?=```)", text)]
    closers = []  # (fence position, index of the "}" before it)
    for q in fences:
        k = q - 1
        while k >= 0 and text[k].isspace():
            k -= 1
        if k >= 0 and text[k] == "}":
            closers.append((q, k))
    for p in fences:
        lead = _FENCE_LEAD.match(text, p + 3)
        if not lead:
            continue
        start = lead.end()
        n = _first_after_pos(closers, start + 1)
        while n < len(closers) and closers[n][1] < start:  # the "}" must lie inside the fence
            n += 1
        if n < len(closers):
            return text[start:closers[n][1] + 1]
        return None  # no later fence can close either
    return None


def _first_after_pos(items: list[tuple[int, int]], pos: int) -> int:
    lo, hi = 0, len(items)
    while lo < hi:
        mid = (lo + hi) // 2
        if items[mid][0] < pos:
            lo = mid + 1
        else:
            hi = mid
    return lo


_SIG = re.compile(r"^\s*(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(")


class ProposalError(ValueError):
    """The proposal cannot be read as a task (an agent mistake: it becomes feedback)."""


def _code(text: str) -> str:
    found = extract_code(text)
    return found.code if found.code else text.strip("\n") + "\n"


def _from_fields(fields: dict[str, Any]) -> dict[str, Any]:
    interface = fields.get("interface") if isinstance(fields.get("interface"), dict) else {}
    signature = str(fields.get("signature") or interface.get("signature") or "").strip().rstrip(":")
    entry = str(fields.get("entry_point") or interface.get("entry_point") or "").strip()
    if not entry and signature:
        m = _SIG.match(signature)
        entry = m.group(1) if m else ""
    missing = [k for k, v in (("instruction", fields.get("instruction")), ("entry_point or signature", entry),
                              ("solution", fields.get("solution")), ("verification", fields.get("verification")))
               if not v]
    if missing:
        raise ProposalError(f"the proposal lacks {', '.join(missing)}")
    cases = fields.get("failure_cases") or []
    if not isinstance(cases, list):
        raise ProposalError("failure_cases must be a list of programs")
    return {
        "instruction": str(fields["instruction"]).strip(),
        "entry_point": entry,
        "signature": signature,
        "solution": _code(str(fields["solution"])),
        "verification": _code(str(fields["verification"])),
        "failure_cases": [_code(str(c)) for c in cases],
    }


def parse_proposal(text: str, *, level: int | None = None, topic: str | None = None, author: str | None = None) -> Task:
    """Read a proposal (tags or JSON) into a code Task with a content-derived id."""
    if not isinstance(text, str) or not text.strip():
        raise ProposalError("the proposal is empty")
    tags = _tagged(text)
    if tags:
        fields: dict[str, Any] = {"failure_cases": []}
        for name, body in tags:
            if name == "failure_case":
                fields["failure_cases"].append(body)
            else:
                fields.setdefault(name, body.strip())
        parsed = _from_fields(fields)
    else:
        fenced = _json_fence(text)
        raw = fenced if fenced is not None else text.strip()
        try:
            data = safejson.loads(raw, what="the JSON proposal")
        except safejson.JSONError:
            raise ProposalError("no <instruction>...</instruction> sections and no JSON object found") from None
        if not isinstance(data, dict):
            raise ProposalError("the JSON proposal must be an object")
        parsed = _from_fields(data)
    metadata: dict[str, Any] = {}
    if topic:
        metadata["topic"] = topic
    if author:
        metadata["author"] = author
    task = Task(id="pending", family=FAMILY, prompt=parsed["instruction"],
                payload={k: parsed[k] for k in ("entry_point", "signature", "verification", "solution", "failure_cases")}
                | {"style": "tests", "prelude": ""},
                difficulty={"level": int(level)} if level is not None else {},
                source="generated", license=None, metadata=metadata)
    task.id = f"gen/{parsed['entry_point']}-{fingerprint(task)[:10]}"
    return task


def format_proposal(task: Task) -> str:
    """A task written in the tagged proposal form (used for the brief's examples)."""
    p = task.payload
    cases = "\n".join(f"<failure_case>\n```python\n{c.rstrip()}\n```\n</failure_case>" for c in p["failure_cases"])
    return (f"<instruction>{task.prompt.strip()}</instruction>\n"
            f"<signature>{p.get('signature') or p['entry_point']}</signature>\n"
            f"<solution>\n```python\n{p['solution'].rstrip()}\n```\n</solution>\n"
            f"<verification>\n```python\n{p['verification'].rstrip()}\n```\n</verification>\n{cases}")
