"""ToolUse tasks: loading, generation, the exact-answer checker and the oracle.

Plain functions the env, the task builder, the benchmark and the tests share.

A task is a ``Task`` of family ``"tooluse"`` whose payload holds::

    {"domain": "travel",                  # a key of selfgym.envs.tooluse.domains.DOMAINS
     "answer": 412.5,                     # the exact answer
     "answer_type": "number",             # "number" | "text" | "exact" (see ``check``)
     "oracle": [{"name": "find_flights", "arguments": {...}}, ...,
                {"name": "final_answer", "arguments": {"answer": 412.5}}]}

The oracle is the list of calls that solves the task, one per turn, ending in the final answer;
its intermediate arguments are literal values produced by the real tools when the task was
generated, so replaying it through the env reproduces every result. Difficulty attributes are
numeric: ``tool_calls`` (oracle calls before the answer), ``distinct_tools`` and ``level``.
"""

from __future__ import annotations

import json
import math
import re
from importlib import resources
from typing import Any, Callable

import numpy as np

from selfgym.errors import TaskError
from selfgym.tools import ToolCall, ToolSet
from selfgym.types import CheckResult, Status, Task, Verdict, load_tasks

FAMILY = "tooluse"
ANSWER_TYPES = ("number", "text", "exact")
TASK_FILE = "tasks.jsonl"


def builtin_tasks() -> list[Task]:
    """The task list shipped with the package (``data/tasks.jsonl``), validated."""
    path = resources.files("selfgym.envs.tooluse") / "data" / TASK_FILE
    with resources.as_file(path) as p:
        tasks = load_tasks(p)
    for t in tasks:
        validate(t)
    return tasks


def validate(task: Task) -> Task:
    """Raise TaskError unless ``task`` is a well-formed ToolUse task (domain, answer, oracle)."""
    from selfgym.envs.tooluse.domains import DOMAINS

    p = task.payload
    if task.family != FAMILY:
        raise TaskError(f"task {task.id!r} has family {task.family!r}; ToolUse needs {FAMILY!r}")
    if p.get("domain") not in DOMAINS:
        raise TaskError(f"task {task.id!r}: unknown domain {p.get('domain')!r}; known: {sorted(DOMAINS)}")
    if "answer" not in p:
        raise TaskError(f"task {task.id!r}: payload has no 'answer'")
    if p.get("answer_type", "text") not in ANSWER_TYPES:
        raise TaskError(f"task {task.id!r}: answer_type must be one of {ANSWER_TYPES}, got {p.get('answer_type')!r}")
    oracle = p.get("oracle")
    if not isinstance(oracle, list) or not oracle or not all(isinstance(c, dict) and "name" in c for c in oracle):
        raise TaskError(f"task {task.id!r}: payload 'oracle' must be a non-empty list of calls")
    return task


# ------------------------------------------------------------------------------ checking
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def parse_number(value: Any) -> float | None:
    """A number from an answer: a JSON number, or text holding exactly one number.

    Thousands separators, currency signs, units and surrounding words are ignored
    (``"$1,234.50"``, ``"412.5 EUR"``, ``"The total is 12"``).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an int too large for a float matches no expected number
            return None
        return number if math.isfinite(number) else None
    if isinstance(value, list) and len(value) == 1:
        return parse_number(value[0])
    if not isinstance(value, str):
        return None
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", value)
    found = _NUMBER.findall(text)
    if len(found) != 1:
        return None
    return float(found[0])


def normalize_text(value: Any) -> str:
    """Case-folded, whitespace-collapsed text without surrounding quotes or a final full stop."""
    text = value if isinstance(value, str) else json.dumps(value)
    text = " ".join(text.split()).strip().strip("\"'`").strip()
    return text.rstrip(".").strip().casefold()


def answers_match(expected: Any, got: Any, answer_type: str) -> bool:
    """The exact-answer rule.

    ``number``: equal within 1e-6 relative (so 12.5 == "12.50" == "$12.50");
    ``text``: equal after ``normalize_text`` (case, spacing, quotes, a final full stop);
    ``exact``: equal after stripping surrounding whitespace (codes such as base64).
    """
    if answer_type == "number":
        g, e = parse_number(got), float(expected)
        return g is not None and abs(g - e) <= 1e-6 * max(1.0, abs(e))
    if answer_type == "exact":
        g = got if isinstance(got, str) else json.dumps(got)
        return g.strip().strip("`").strip() == str(expected).strip()
    return normalize_text(got) == normalize_text(expected)


def check(task: Task, answer: Any) -> Verdict:
    """The verdict on a final answer: reward 1 when it matches ``payload["answer"]``, else 0."""
    p = task.payload
    passed = answers_match(p["answer"], answer, p.get("answer_type", "text"))
    return Verdict(
        reward=1.0 if passed else 0.0,
        passed=passed,
        status=Status.OK if passed else Status.TASK_FAILURE,
        checks=[CheckResult("exact_answer", passed, "" if passed else "wrong answer",
                            expected=p["answer"], got=answer)],
        error=None if passed else "the final answer does not match",
    )


def timeout_verdict(max_turns: int) -> Verdict:
    """The verdict when the turn limit ends an episode without a final answer."""
    return Verdict(reward=0.0, passed=False, status=Status.TASK_FAILURE,
                   checks=[CheckResult("answered_in_time", False, f"no final answer within {max_turns} turns")],
                   error=f"no final answer within {max_turns} turns")


def oracle_actions(task: Task) -> list[str]:
    """The oracle as action strings, one per turn (JSON call objects)."""
    return [json.dumps({"name": c["name"], "arguments": c.get("arguments", {})}) for c in task.payload["oracle"]]


# ------------------------------------------------------------------------------ generation
class Trace:
    """Runs tools for a task template and records each call as an oracle step.

    A template calls ``trace("tool_name", arg=value, ...)`` and gets the tool's value; any
    failure is a bug in the template, so it raises TaskError.
    """

    def __init__(self, toolset: ToolSet):
        self.toolset = toolset
        self.calls: list[dict[str, Any]] = []

    def __call__(self, name: str, **arguments: Any) -> Any:
        result = self.toolset.execute(ToolCall(name, arguments))
        if not result.ok:
            raise TaskError(f"oracle call {name}({arguments}) failed: {result.error}")
        self.calls.append({"name": name, "arguments": arguments})
        return result.value


Template = Callable[[np.random.Generator, Trace], tuple[str, Any, str]]
"""A task template: ``(rng, trace) -> (prompt, answer, answer_type)``, calling tools via trace."""


def make_task(domain: str, template: Template, rng: np.random.Generator, task_id: str,
              source: str = "selfgym") -> Task:
    """Run one template of ``domain`` and package the result as a validated Task."""
    from selfgym.envs.tooluse.domains import DOMAINS

    trace = Trace(DOMAINS[domain].toolset())
    prompt, answer, answer_type = template(rng, trace)
    if len(trace.calls) < 2:
        raise TaskError(f"template {template.__name__} made {len(trace.calls)} call(s); tasks need 2 or more")
    n_calls = len(trace.calls)
    distinct = len({c["name"] for c in trace.calls})
    oracle = trace.calls + [{"name": "final_answer", "arguments": {"answer": answer}}]
    return validate(Task(
        id=task_id, family=FAMILY, prompt=prompt,
        payload={"domain": domain, "template": template.__name__, "answer": answer,
                 "answer_type": answer_type, "oracle": oracle},
        difficulty={"tool_calls": n_calls, "distinct_tools": distinct,
                    "level": 1 if n_calls <= 2 else 2 if n_calls <= 4 else 3},
        source=source,
    ))


def generate(n: int, seed: int = 0, domains: list[str] | None = None, prefix: str = "tooluse/gen") -> list[Task]:
    """``n`` fresh tasks from the domains' templates, seeded (same seed, same tasks)."""
    from selfgym.envs.tooluse.domains import DOMAINS

    names = list(domains or DOMAINS)
    rng = np.random.default_rng(seed)
    tasks = []
    for i in range(n):
        domain = names[int(rng.integers(len(names)))]
        templates = DOMAINS[domain].TEMPLATES
        template = templates[int(rng.integers(len(templates)))]
        tasks.append(make_task(domain, template, rng, f"{prefix}/{seed}/{i}/{domain}/{template.__name__}", "generated"))
    return tasks


def build_builtin(per_domain: int = 11, seed: int = 2026) -> list[Task]:
    """The shipped task list: ``per_domain`` tasks per domain, templates in turn, seeded."""
    from selfgym.envs.tooluse.domains import DOMAINS

    tasks = []
    for d_index, (domain, module) in enumerate(sorted(DOMAINS.items())):
        rng = np.random.default_rng([seed, d_index])
        for i in range(per_domain):
            template = module.TEMPLATES[i % len(module.TEMPLATES)]
            tasks.append(make_task(domain, template, rng, f"tooluse/{domain}/{i:03d}"))
    return tasks
