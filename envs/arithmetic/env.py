"""``selfgym/Arithmetic-v0``: compute an integer expression; the checker gives the reward."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from selfgym.actions import ActionSet
from selfgym.errors import ConfigError, TaskError
from selfgym.envs.arithmetic import task as rules
from selfgym.textenv import Outcome, TextEnv
from selfgym.types import Task


def submit_answer(answer: int) -> str:
    """Give the integer the expression evaluates to.

    Args:
        answer: the integer answer.
    """
    return str(int(answer))


ACTIONS = ActionSet.text([submit_answer], help_text="Free text works too: the last integer in your reply is the answer.")


class ArithmeticEnv(TextEnv):
    """Integer arithmetic with exact-answer verification.

    Args:
        level: difficulty 1..5 (operands = level + 1, digits up to level); a list draws one of
            its levels per episode; None draws from 1..5.
        max_attempts: answers allowed before the episode ends (wrong answers get feedback).
    Observation: the problem text, then feedback after a wrong answer.
    Action: free text whose last integer is the answer.
    Reward: 1 for the right answer, else 0 (terminal step only).
    """

    family = "arithmetic"
    prompt_template = "selfgym.envs.arithmetic.prompting:ArithmeticTemplate"
    system_prompt = "You solve arithmetic problems. End your reply with the integer answer."

    def __init__(self, level: int | list[int] | None = None, max_attempts: int = 3, **kwargs: Any):
        super().__init__(max_observation_length=2048, max_action_length=2048, **kwargs)
        levels = [1, 2, 3, 4, 5] if level is None else ([level] if isinstance(level, int) else list(level))
        if not levels or not all(isinstance(x, int) and 1 <= x <= 5 for x in levels):
            raise ConfigError(f"level must be an int in 1..5, a list of them, or None; got {level!r}")
        if max_attempts < 1:
            raise ConfigError(f"max_attempts must be >= 1, got {max_attempts!r}")
        self.levels = levels
        self.max_attempts = max_attempts
        self.attempts = 0

    def action_set(self) -> ActionSet:
        return ACTIONS

    def sample_task(self, rng: np.random.Generator) -> Task:
        return rules.generate(rng, self.levels[int(rng.integers(len(self.levels)))])

    def task_set(self, n: int | None = None, seed: int = 0) -> list[Task]:
        """``n`` (default 100) distinct generated tasks over this env's levels, from ``seed``
        (fewer when the levels have fewer distinct expressions)."""
        rng = np.random.default_rng(seed)
        want = 100 if n is None else int(n)
        found: dict[str, Task] = {}
        for _ in range(want * 20):
            if len(found) >= want:
                break
            t = self.sample_task(rng)
            found.setdefault(t.id, t)
        return list(found.values())

    def find_task(self, task_id: str) -> Task:
        """A task from its id: ids (``arith/L<level>/<expression>``) carry the whole task."""
        m = re.fullmatch(r"arith/L([1-5])/([0-9+*-]+)", task_id)
        if not m or not re.fullmatch(r"\d+([+*-]\d+)*", m.group(2)):
            raise TaskError(f"{task_id!r} is not an arithmetic task id (arith/L<level>/<expression>)")
        expr = re.sub(r"([+*-])", r" \1 ", m.group(2))
        return rules.from_expression(expr, int(m.group(1)))

    def begin(self, task: Task) -> str:
        if task.family != "arithmetic":
            raise TaskError(f"ArithmeticEnv needs an arithmetic task, got family {task.family!r}")
        self.attempts = 0
        return task.prompt

    def act(self, action: str) -> Outcome:
        self.attempts += 1
        verdict = rules.check(self.task, action)
        error = None if rules.parse_answer(action) is not None else "no integer found in the answer"
        if verdict.passed or self.attempts >= self.max_attempts:
            msg = "Correct." if verdict.passed else f"Wrong. The answer was {self.task.payload['answer']}."
            return Outcome(msg, terminated=True, verdict=verdict, action_error=error)
        left = self.max_attempts - self.attempts
        return Outcome(f"That is not right ({verdict.error}). Try again; {left} attempt(s) left.",
                       reward=0.0, action_error=error)

    def cheat(self) -> str:
        """The oracle action for the current task."""
        return rules.cheat(self.task)
