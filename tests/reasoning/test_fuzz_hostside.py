"""Reasoning-v0 and Integration-v0 against hostile replies: no raise, no stall, no code run.

Several reasoning-gym scorers pass the answer to ``eval`` or sympy's ``parse_expr`` in this
process; answers that carry code or explosive arithmetic must be refused before they get there.
"""

from __future__ import annotations

import os
import re
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from selfgym.envs.reasoning import bridge
from selfgym.envs.reasoning import integration as calculus
from selfgym.envs.reasoning.env import IntegrationEnv, ReasoningEnv
from selfgym.types import Status

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BOUND_S = 10.0  # far above linear work on these inputs, far below what a stall would take

HOSTILE = ["<answer>" * 20_000, "<answer>" + "x" * 100_000 + "</answer>", "[" * 50_000, "9" * 5000, "1e999999",
           "10**10**10", "2**(2**(2**10))", "9^9^9", "(" * 300 + "1" + ")" * 300, "\x00", "\ud800",
           "".join(chr(c) for c in range(32)) * 100, "sin(" * 150 + "x" + ")" * 150, "exp(" * 12 + "x" + ")" * 12,
           "-" * 590 + "x", "x" * 300_000]


@pytest.mark.parametrize("reply", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize("make", [lambda: ReasoningEnv("countdown", level=0), lambda: ReasoningEnv("basic_arithmetic"),
                                  lambda: IntegrationEnv(level=3)], ids=["countdown", "arithmetic", "integration"])
def test_step_never_raises_or_stalls(make, reply):
    env = make()
    env.reset(seed=1)
    t0 = time.perf_counter()
    obs, reward, terminated, truncated, info = env.step(f"<answer>{reply}</answer>")
    assert time.perf_counter() - t0 < BOUND_S
    assert terminated and reward < 1.0 and info["verdict"]["status"] == "task_failure"
    assert env.observation_space.contains(obs) and "\n" not in obs


def test_an_answer_that_is_code_never_runs_in_this_process(tmp_path):
    marker = tmp_path / "ran"
    payload = f"__import__('os').system('touch {marker}')"
    for name in ["countdown", "puzzle24", "polynomial_multiplication", "n_queens", "spiral_matrix", "basic_arithmetic"]:
        task = bridge.make_task(name, level=0, seed=0, index=0)
        for answer in [payload, "exec(chr(112)+chr(114)+chr(105)+chr(110)+chr(116)+chr(40)+chr(41))",
                       "open(" + "chr(47)" + ").read()", "(lambda: 1)()"]:
            v = bridge.score(task, answer)
            assert v.status == Status.TASK_FAILURE and not v.passed, (name, answer)
    assert not marker.exists() and not os.path.exists(str(marker))


def test_reference_answers_are_never_refused():
    for name in ["countdown", "polynomial_multiplication", "bitwise_arithmetic", "number_sorting", "n_queens",
                 "simple_integration", "spiral_matrix"]:
        for index in range(5):
            task = bridge.make_task(name, level=1, seed=2, index=index)
            assert bridge.score(task, str(task.payload["entry"]["answer"])).status != Status.INFRA_ERROR
            dataset = bridge._dataset(name, __import__("json").dumps(task.payload["config"], sort_keys=True), 2)
            assert bridge.unsafe_answer(dataset, str(task.payload["entry"]["answer"])) is None, (name, index)


tags = st.lists(st.sampled_from(["<answer>", "</answer>", "<ANSWER>", "</Answer>", "x", " ", "\n", "1"]), max_size=40)


@SETTINGS
@given(tags.map("".join))
def test_last_tagged_matches_the_regular_expression_it_replaces(text):
    found = re.findall(r"<answer>(.*?)</answer>", text, re.S | re.I)
    assert calculus.last_tagged(text) == (found[-1] if found else None)


def test_integration_checks_stay_fast_on_deep_or_exploding_answers():
    task = calculus.generate(np.random.default_rng(0), 2)
    for answer in ["exp(exp(exp(exp(exp(exp(x))))))", "sin(" * 60 + "x" + ")" * 60, "x**x**x**x**x**x"]:
        t0 = time.perf_counter()
        verdict, _ = calculus.check(task, f"<answer>{answer}</answer>")
        assert time.perf_counter() - t0 < BOUND_S and not verdict.passed and verdict.error
