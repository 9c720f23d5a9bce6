"""Integration-v0: generated antiderivative problems, a safe parser and a sympy checker."""

from __future__ import annotations

import json
import time

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import selfgym
from selfgym.envs.reasoning import integration as calc
from selfgym.errors import ConfigError
from selfgym.types import Task


def _task(integrand: str, antiderivative: str = "0") -> Task:
    return Task(id="t", family="integration", prompt="p", payload={"integrand": integrand, "antiderivative": antiderivative})


@pytest.mark.parametrize("level", calc.LEVELS)
def test_generated_problems_are_solved_by_their_oracle(level):
    rng = np.random.default_rng(level)
    for _ in range(2):
        task = calc.generate(rng, level)
        verdict, error = calc.check(task, calc.cheat(task))
        assert verdict.passed and verdict.reward == 1.0 and error is None, task.payload
        assert task.difficulty["level"] == level and all(isinstance(v, int) for v in task.difficulty.values())
        assert task.payload["integrand"] in task.prompt


def test_difficulty_grows_with_level():
    rng = np.random.default_rng(0)
    ops = {lvl: np.mean([calc.generate(rng, lvl).difficulty["integrand_ops"] for _ in range(6)]) for lvl in (1, 3, 5)}
    assert ops[1] < ops[3] < ops[5]


@pytest.mark.parametrize("reply", [
    "<answer>2*x**2 - 3*cos(x)</answer>",
    "<answer>2x^2 - 3cos(x) + C</answer>",  # caret powers, implicit products, the constant
    "<answer>2*x**2 - 3*cos(x) + 17</answer>",  # any antiderivative
    "We integrate term by term.\nF(x) = 2*x**2 - 3*cos(x)",  # no tags: the last line
    "<answer>x**2*2 - 3*(cos(x/2)**2 - sin(x/2)**2)</answer>",  # written differently
])
def test_any_correct_antiderivative_is_accepted(reply):
    verdict, error = calc.check(_task("4*x + 3*sin(x)"), reply)
    assert verdict.passed and error is None, verdict.error


@pytest.mark.parametrize("reply", ["<answer>2*x**2 + 3*cos(x)</answer>", "<answer>4*x + 3*sin(x)</answer>",
                                   "<answer>x**x**x</answer>"])
def test_wrong_antiderivatives_fail_with_a_reason(reply):
    verdict, error = calc.check(_task("4*x + 3*sin(x)"), reply)
    assert not verdict.passed and verdict.reward == 0.0 and error is None
    assert "derivative of the answer" in verdict.error


@pytest.mark.parametrize("reply, message", [
    ("<answer>__import__('os').system('true')</answer>", "characters that are not allowed"),
    ("<answer>x.__class__</answer>", "characters that are not allowed"),
    ("<answer>x.real</answer>", "may only appear inside a decimal"),
    ("<answer>eval(x)</answer>", "unknown names ['eval']"),
    ("<answer>y + x</answer>", "unknown names ['y']"),
    ("<answer>9**9**9**9</answer>", "numbers that are too large"),
    ("<answer>((2**99)**99)**99</answer>", "numbers that are too large"),
    ("<answer>sin(10**1000*x)</answer>", "numbers that are too large"),  # would need huge precision
    ("<answer>sin(x</answer>", "could not parse"),
    ("", "no answer found"),
    ("<answer>" + "x+" * 400 + "x</answer>", "longer than"),
])
def test_unsafe_or_malformed_answers_are_action_errors_and_fast(reply, message):
    start = time.perf_counter()
    verdict, error = calc.check(_task("2*x"), reply)
    assert time.perf_counter() - start < 2.0
    assert not verdict.passed and message in error and verdict.status == selfgym.Status.TASK_FAILURE


def test_env_contract_task_set_and_tasks_as_data():
    env = gym.make("selfgym/Integration-v0", max_attempts=2)
    check_env(env.unwrapped, skip_render_check=False)
    tasks = env.unwrapped.task_set(10, seed=4)
    assert [t.difficulty["level"] for t in tasks] == [1, 2, 3, 4, 5] * 2
    assert tasks == env.unwrapped.task_set(10, seed=4)
    task = Task.from_dict(json.loads(json.dumps(tasks[3].to_dict())))
    obs, info = env.reset(options={"task": task.to_dict()})
    assert info["task_id"] == task.id and info["difficulty"] == task.difficulty
    obs, r, term, _, info = env.step("<answer>import os</answer>")
    assert not term and r == 0.0 and "unknown names" in info["action_error"]
    obs, r, term, _, info = env.step(env.unwrapped.cheat())
    assert term and r == 1.0 and info["verdict"]["checks"][-1]["name"] == "derivative_matches"
    fixed = gym.make("selfgym/Integration-v0", level=2)
    assert {fixed.reset(seed=s)[1]["difficulty"]["level"] for s in range(4)} == {2}
    with pytest.raises(ConfigError, match="level must be one of"):
        gym.make("selfgym/Integration-v0", level=9)
