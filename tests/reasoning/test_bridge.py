"""Reasoning-v0: reasoning-gym items as Tasks, scored by reasoning-gym's own scorers."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import selfgym
from selfgym.envs.reasoning import bridge
from selfgym.errors import ConfigError
from selfgym.types import Task

# datasets whose reference answer is the one right answer, so the oracle must score 1
ORACLE_DATASETS = ["basic_arithmetic", "chain_sum", "countdown", "gcd", "word_sorting", "simple_equations",
                   "simple_integration", "spell_backward", "knights_knaves", "mini_sudoku"]


@pytest.mark.parametrize("name", ORACLE_DATASETS)
def test_oracle_scores_one_and_a_wrong_answer_does_not(name):
    task = bridge.make_task(name, level=0, seed=3, index=2)
    assert task.family == "reasoning" and task.payload["dataset"] == name
    assert bridge.score(task, bridge.extract_answer(bridge.cheat(task))).reward == 1.0
    wrong = bridge.score(task, "certainly not this")
    assert wrong.reward < 1.0 and not wrong.passed and wrong.status == selfgym.Status.TASK_FAILURE


def test_tasks_are_data_that_round_trip_json_and_still_score():
    task = bridge.make_task("countdown", level=1, seed=5, index=7)
    back = Task.from_dict(json.loads(json.dumps(task.to_dict())))
    assert back == task
    assert bridge.score(back, bridge.extract_answer(bridge.cheat(back))).passed
    again = bridge.make_task("countdown", level=1, seed=5, index=7)
    assert again == task  # seeded: the same item every time


def test_levels_follow_reasoning_gyms_curriculum_and_show_in_difficulty():
    assert bridge.max_level("chain_sum") >= 3
    easy = [bridge.make_task("chain_sum", level=0, seed=1, index=i) for i in range(10)]
    hard = [bridge.make_task("chain_sum", level=3, seed=1, index=i) for i in range(10)]
    for t in easy + hard:
        assert t.difficulty and all(isinstance(v, float) for v in t.difficulty.values())
    assert {t.difficulty["level"] for t in hard} == {3.0}
    mean = lambda ts, k: sum(t.difficulty[k] for t in ts) / len(ts)  # noqa: E731
    assert mean(hard, "num_terms") > mean(easy, "num_terms")
    assert mean(hard, "num_digits") > mean(easy, "num_digits")
    assert easy[0].id == "reasoning/chain_sum/L0/s1/0"


def test_config_overrides_reach_the_generator():
    task = bridge.make_task("basic_arithmetic", seed=0, index=0, config={"min_terms": 5, "max_terms": 5})
    assert task.difficulty["num_terms"] == 5.0 and task.payload["config"]["min_terms"] == 5


def test_errors_name_the_problem_and_the_fix():
    with pytest.raises(ConfigError, match=r"Did you mean \['countdown'"):
        bridge.check_dataset("countdwn")
    with pytest.raises(ConfigError, match="rejected the configuration"):
        bridge.make_task("basic_arithmetic", config={"min_terms": 9, "max_terms": 2})
    task = bridge.make_task("prime_factorization", level=0)
    crashed = bridge.score(task, "not a number")  # the scorer still reads its reference: the answer's fault
    assert crashed.status == selfgym.Status.TASK_FAILURE and crashed.reward == 0.0 and "scorer raised" in crashed.error
    broken = Task.from_dict({**task.to_dict(), "payload": {**task.payload, "entry": {**task.payload["entry"],
                                                                                     "answer": "not a number"}}})
    crashed = bridge.score(broken, "not a number")  # it cannot read its own reference: the verifier's fault
    assert crashed.is_infra_error and "scorer raised" in crashed.error


def test_extract_answer():
    assert bridge.extract_answer("think <answer>1</answer> more <answer> 42 </answer>") == "42"
    assert bridge.extract_answer("  plain  ") == "plain"


def test_env_contract_and_options():
    env = gym.make("selfgym/Reasoning-v0", dataset=["basic_arithmetic", "chain_sum"], max_attempts=2)
    check_env(env.unwrapped, skip_render_check=False)
    obs, info = env.reset(seed=4, options={"dataset": "gcd", "level": 1})
    assert info["task_id"].startswith("reasoning/gcd/L1/") and "<answer></answer>" in obs
    assert info["difficulty"]["level"] == 1.0
    obs, r, term, trunc, info = env.step("   ")
    assert not term and r == 0.0 and "empty answer" in info["action_error"] and "1 attempt(s) left" in obs
    obs, r, term, trunc, info = env.step(env.unwrapped.cheat())
    assert term and r == 1.0 and info["verdict"]["passed"] and "action_error" not in info
    # a task from elsewhere (here: a dict, as curricula send it) is played as given
    task = bridge.make_task("countdown", level=0, seed=9, index=1)
    obs, info = env.reset(options={"task": task.to_dict()})
    assert info["task_id"] == task.id and obs == task.prompt
    with pytest.raises(ConfigError, match="unknown reasoning-gym dataset"):
        env.reset(options={"dataset": "nope"})
    with pytest.raises(selfgym.TaskError, match="needs a 'reasoning' task"):
        env.reset(options={"task": {"id": "a", "family": "arithmetic", "prompt": "p"}})


def test_task_set_cycles_datasets_and_levels():
    env = gym.make("selfgym/Reasoning-v0", dataset=["basic_arithmetic", "chain_sum"]).unwrapped
    tasks = env.task_set(8, seed=2)
    assert [t.payload["dataset"] for t in tasks[:4]] == ["basic_arithmetic", "chain_sum"] * 2
    assert len({t.difficulty["level"] for t in tasks}) > 1
    assert tasks == env.task_set(8, seed=2) and tasks != env.task_set(8, seed=3)
    assert len(env.task_set()) == 100


def test_drawn_levels_step_down_where_a_generator_fails_at_the_top():
    # caesar_cipher's top levels are rejected by reasoning-gym's own validation
    env = gym.make("selfgym/Reasoning-v0", dataset="caesar_cipher")
    levels = {env.reset(seed=s)[1]["difficulty"]["level"] for s in range(12)}
    assert levels and max(levels) <= 1.0
    with pytest.raises(ConfigError, match="caesar_cipher"):
        gym.make("selfgym/Reasoning-v0", dataset="caesar_cipher", level=3).reset(seed=0)
