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

import json
import re
from typing import Any

from selfgym.types import Task

from selfgym.envs.code.extract import extract_code
from selfgym.envs.code.taskformat import FAMILY, fingerprint

_TAG = re.compile(r"<(instruction|entry_point|signature|solution|verification|failure_case)>(.*?)</\1>", re.DOTALL)
_JSON_FENCE = re.compile(r"```(?:json)?\s*\n(\{.*?\})\s*```", re.DOTALL)
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
    tags = _TAG.findall(text)
    if tags:
        fields: dict[str, Any] = {"failure_cases": []}
        for name, body in tags:
            if name == "failure_case":
                fields["failure_cases"].append(body)
            else:
                fields.setdefault(name, body.strip())
        parsed = _from_fields(fields)
    else:
        m = _JSON_FENCE.search(text)
        raw = m.group(1) if m else text.strip()
        try:
            data = json.loads(raw)
        except ValueError:
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
