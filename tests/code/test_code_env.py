"""CodeTask-v0: oracle episodes on every source, bad actions as feedback, reward modes, feedback
detail, infrastructure errors, task selection."""

from __future__ import annotations

import json
import math

import gymnasium as gym
import pytest

import selfgym  # noqa: F401 - registers the ids
from selfgym.errors import ConfigError, VerifierError
from selfgym.envs.code.env import CodeTaskEnv
from selfgym.envs.code.humaneval import load_humaneval
from selfgym.envs.code.pool import TaskPool
from selfgym.envs.code.sources import BUNDLED_PATH, load_bundled
from selfgym.envs.code.taskformat import from_task


def _task(task_id: str):
    return next(t for t in load_bundled() if t.id == task_id)


def _fence(code: str) -> str:
    return f"```python\n{code}```"


@pytest.mark.parametrize("source", ["bundled", "humaneval", "jsonl", "list", "pool"])
def test_oracle_solves_every_source(sandbox, tmp_path, source):
    if source == "jsonl":
        path = tmp_path / "tasks.jsonl"
        path.write_text("".join(line for line in list(open(BUNDLED_PATH))[:4]))
        source = str(path)
    elif source == "list":
        source = load_bundled()[10:13]
    elif source == "pool":
        source = TaskPool(load_bundled()[20:23])
    env = CodeTaskEnv(source, sandbox=sandbox)
    for seed in range(2):
        obs, info = env.reset(seed=seed)
        assert env.observation_space.contains(obs) and info["task_id"] == env.task.id
        obs, reward, terminated, truncated, info = env.step(env.cheat())
        assert (reward, terminated, truncated) == (1.0, True, False), info.get("verdict")
        assert info["verdict"]["passed"] and info["reward_valid"]


def test_observation_shows_instruction_and_interface():
    env = CodeTaskEnv()
    obs, info = env.reset(options={"task": _task("code/digit-sum")})
    assert obs.startswith("Return the sum of the decimal digits")
    assert "def digit_sum(n: int) -> int" in obs and "3 hidden check(s)" in obs
    assert info["difficulty"]["level"] == 1
    assert info["messages"][0]["role"] == "system" and info["messages"][-1]["content"] == obs


@pytest.mark.parametrize("action, error", [
    ("", "no code found"),
    ("I am not sure how to do this.", "no code found"),
    ("```python\ndef digit_sum(n:\n    return 0\n```", "SyntaxError at line 1"),
    ("```python\ndef other(n):\n    return 0\n```", "does not define `digit_sum`"),
    ("def digit_sum(n):\n    return '\udcff'\n", "not valid UTF-8"),
    (b"\xff\xfedef digit_sum(n): return 0", "no code found"),
    ("x = 1\n" * 30_000, "the limit is 100000"),
])
def test_bad_actions_are_feedback_not_exceptions(sandbox, action, error):
    env = CodeTaskEnv(max_attempts=2, sandbox=sandbox)
    env.reset(options={"task": _task("code/digit-sum")})
    obs, reward, terminated, truncated, info = env.step(action)
    assert error in info["action_error"]
    assert reward == 0.0 and not terminated and not truncated
    assert env.observation_space.contains(obs)
    obs, reward, terminated, _, info = env.step(env.cheat())
    assert terminated and reward == 1.0 and info["turn_scores"] == [0.0, 1.0]


def test_huge_output_and_crashes_are_wrong_answers(sandbox):
    env = CodeTaskEnv(reward_mode="fraction", sandbox=sandbox)
    env.reset(options={"task": _task("code/digit-sum")})
    _, reward, terminated, _, info = env.step(_fence("def digit_sum(n):\n    print('y' * 50_000_000)\n    return 0\n"))
    assert terminated and reward < 1.0 and info["verdict"]["status"] == "task_failure"
    env.reset(options={"task": _task("code/digit-sum")})
    _, reward, _, _, info = env.step(_fence("def digit_sum(n):\n    raise ValueError('nope')\n"))
    assert reward == 0.0 and "ValueError: nope" in info["verdict"]["checks"][0]["message"]


def test_feedback_detail_levels(sandbox):
    wrong = _fence(_task("code/second-largest").payload["failure_cases"][2])  # returns 0 instead of None
    texts = {}
    for detail in ("none", "summary", "full"):
        env = CodeTaskEnv(max_attempts=2, feedback=detail, sandbox=sandbox)
        env.reset(options={"task": _task("code/second-largest")})
        texts[detail] = env.step(wrong)[0]
    assert "test_too_few" not in texts["none"] and "Review your previous answer" in texts["none"]
    assert "1 of 4 check(s) failed (test_too_few)" in texts["summary"] and "assert" not in texts["summary"]
    assert "- test_too_few:\n| assertion failed" in texts["full"] and "candidate([2, 2]) is None" in texts["full"]
    env = CodeTaskEnv(max_attempts=2, feedback="full", feedback_chars=60, sandbox=sandbox)
    env.reset(options={"task": _task("code/second-largest")})
    assert "[feedback cut at 60 characters]" in env.step(wrong)[0]


def _play(env, task, actions):
    env.reset(options={"task": task})
    rewards = []
    for a in actions:
        _, r, terminated, truncated, info = env.step(a)
        rewards.append(r)
        if terminated or truncated:
            break
    return rewards, info


def test_reward_modes_through_the_env(sandbox):
    task = _task("code/base-convert")  # failure case 1 passes 3 of 4 checks
    partial, right = _fence(task.payload["failure_cases"][0]), _fence(task.payload["solution"])
    rewards, info = _play(CodeTaskEnv(max_attempts=3, reward_mode="binary", sandbox=sandbox), task, [partial, right])
    assert rewards == [0.0, 1.0] and info["turn_scores"] == [0.0, 1.0]
    rewards, _ = _play(CodeTaskEnv(max_attempts=2, reward_mode="fraction", sandbox=sandbox), task, [right, partial])
    assert rewards == [1.0]  # stops on the first pass
    rewards, info = _play(CodeTaskEnv(max_attempts=3, reward_mode="cocos", sandbox=sandbox), task, [partial, right])
    assert info["turn_scores"] == [0.75, 1.0] and math.isclose(rewards[-1], 0.5 * 0.75 + 0.25)
    score = CodeTaskEnv(max_attempts=2, reward_mode="score", score_alpha=2.0, sandbox=sandbox)
    rewards, info = _play(score, task, [right, partial])  # "score" always makes both attempts
    assert rewards == [0.0, -2.0] and info["turn_scores"] == [1.0, 0.0]
    rewards, _ = _play(score, task, [partial, right])
    assert rewards == [0.0, 3.0]
    with pytest.raises(ConfigError, match="max_attempts >= 2"):
        CodeTaskEnv(reward_mode="score")


def test_infrastructure_failure_is_never_a_zero_reward():
    from selfgym.verifiers import get_sandbox

    dead = get_sandbox("process")
    dead.close()
    task = load_bundled()[0]
    env = CodeTaskEnv(sandbox=dead)
    env.reset(options={"task": task})
    with pytest.raises(VerifierError):
        env.step(env.cheat())
    masked = CodeTaskEnv(sandbox=dead, on_infra_error="mask", max_attempts=3)
    masked.reset(options={"task": task})
    _, reward, terminated, truncated, info = masked.step(masked.cheat())
    assert math.isnan(reward) and info["reward_valid"] is False and truncated and not terminated


def test_reset_accepts_task_dicts_of_either_form(sandbox):
    env = CodeTaskEnv(sandbox=sandbox)
    task = load_humaneval()[2]
    for form in (task, task.to_dict(), from_task(task)):
        obs, info = env.reset(options={"task": form})
        assert info["task_id"] == "humaneval/2" and "truncate_number" in obs
    assert env.step(env.cheat())[1] == 1.0


def test_task_set_level_and_seeding():
    env = gym.make("selfgym/CodeTask-v0")
    assert len(env.unwrapped.task_set()) == len(load_bundled())
    assert [t.id for t in env.unwrapped.task_set(5, seed=3)] == [t.id for t in env.unwrapped.task_set(5, seed=3)]
    assert len(gym.make("selfgym/CodeTask-v0", source="humaneval").unwrapped.task_set()) == 164
    hard = CodeTaskEnv(level=4)
    assert hard.task_set() and all(t.difficulty["level"] == 4 for t in hard.task_set())
    a, b = gym.make("selfgym/CodeTask-v0"), gym.make("selfgym/CodeTask-v0")
    assert [a.reset(seed=s)[1]["task_id"] for s in range(5)] == [b.reset(seed=s)[1]["task_id"] for s in range(5)]
    with pytest.raises(ConfigError, match="no such file"):
        CodeTaskEnv("nowhere.jsonl")


def test_empty_pool_says_what_to_do():
    env = CodeTaskEnv(TaskPool())
    with pytest.raises(Exception, match="the task pool is empty"):
        env.reset(seed=0)


def test_verdict_info_is_json(sandbox):
    env = CodeTaskEnv(sandbox=sandbox)
    env.reset(seed=0)
    info = env.step(env.cheat())[4]
    json.dumps({k: v for k, v in info.items()})


def test_explicit_limits_and_task_timeouts_apply(sandbox):
    from selfgym.envs.code.validate import limits_for
    from selfgym.verifiers import Limits

    task = _task("code/digit-sum")
    assert limits_for(task, sandbox, Limits(timeout_s=30.0)).timeout_s == 30.0
    assert limits_for(task, sandbox).timeout_s <= 5.0
    slow = CodeTaskEnv(limits=Limits(timeout_s=1.0), sandbox=sandbox)
    slow.reset(options={"task": task})
    _, reward, _, _, info = slow.step(_fence("def digit_sum(n):\n    while True:\n        pass\n"))
    assert reward == 0.0 and "time limit" in info["verdict"]["checks"][0]["message"]
