"""Arithmetic tasks: a seeded generator, the answer parser, the checker and the oracle.

Plain functions the env, the tests and any runner share.
"""

from __future__ import annotations

import re

import numpy as np

from selfgym.types import CheckResult, Status, Task, Verdict

OPS = ("+", "-", "*")
_NUMBER = re.compile(r"-?\d[\d,]*")


def generate(rng: np.random.Generator, level: int = 1) -> Task:
    """An expression of ``level + 1`` operands with up to ``level`` digits each (level 1..5)."""
    level = int(np.clip(level, 1, 5))
    n_operands = level + 1
    operands = [int(rng.integers(1, 10 ** level)) for _ in range(n_operands)]
    ops = [OPS[int(rng.integers(len(OPS)))] for _ in range(n_operands - 1)]
    expr = str(operands[0]) + "".join(f" {op} {x}" for op, x in zip(ops, operands[1:]))
    return from_expression(expr, level)


def from_expression(expr: str, level: int) -> Task:
    """The task of a generated expression at ``level`` (what a task id names)."""
    n_operands = len(re.findall(r"\d+", expr))
    answer = _evaluate(expr)
    return Task(
        id=f"arith/L{level}/{expr.replace(' ', '')}",
        family="arithmetic",
        prompt=f"Compute {expr}. Give the final answer as an integer on the last line.",
        payload={"expression": expr, "answer": answer},
        difficulty={"level": level, "operands": n_operands, "digits": level},
        source="generated",
    )


def _evaluate(expr: str) -> int:
    """Evaluate a generated expression with normal precedence (only ints, + - *)."""
    if not re.fullmatch(r"[\d\s+\-*]+", expr):
        raise ValueError(f"not a generated expression: {expr!r}")
    return int(eval(expr, {"__builtins__": {}}, {}))  # digits and + - * only (checked above)


def parse_answer(text: str) -> int | None:
    """The last integer in ``text`` (commas allowed as thousands separators), or None."""
    found = _NUMBER.findall(text)
    if not found:
        return None
    try:
        return int(found[-1].replace(",", ""))
    except ValueError:
        return None


def check(task: Task, text: str) -> Verdict:
    """Exact-answer verdict for a free-text answer."""
    got = parse_answer(text)
    expected = task.payload["answer"]
    passed = got == expected
    return Verdict(
        reward=1.0 if passed else 0.0,
        passed=passed,
        status=Status.OK if passed else Status.TASK_FAILURE,
        checks=[CheckResult("exact_answer", passed, "" if passed else "wrong answer", expected=expected, got=got)],
        error=None if passed else ("no integer found" if got is None else f"expected a different value than {got}"),
    )


def cheat(task: Task) -> str:
    """The oracle's action."""
    return f"The answer is\n{task.payload['answer']}"
