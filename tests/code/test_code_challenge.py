"""CodeChallenge-v0 and the TaskPool: proposals validated in the sandbox, rewards, the pool that
CodeTask-v0 draws from, learnability, novelty."""

from __future__ import annotations

import inspect

import math
import pickle

import gymnasium as gym
import pytest

import selfgym  # noqa: F401
from selfgym.errors import TaskError
from selfgym.envs.code.challenge import CodeChallengeEnv, topics
from selfgym.envs.code.env import CodeTaskEnv
from selfgym.envs.code.pool import TaskPool
from selfgym.envs.code.proposal import parse_proposal
from selfgym.envs.code.sources import load_bundled

import code_proposals as P


def _step(env, action, seed=0):
    env.reset(seed=seed)
    return env.step(action)


def test_brief_shows_topic_level_and_an_example():
    env = gym.make("selfgym/CodeChallenge-v0", topic="parsing", level=2)
    obs, info = env.reset(seed=1)
    assert obs.startswith("Write a new parsing task of difficulty 2")
    assert "<verification>" in obs and "<failure_case>" in obs and "def test_" in obs
    assert info["difficulty"]["level"] == 2
    assert len(env.unwrapped.task_set()) == len(topics()) * 4
    assert [t.id for t in env.unwrapped.task_set(3, seed=5)] == [t.id for t in env.unwrapped.task_set(3, seed=5)]


def test_valid_proposal_is_rewarded_and_pooled_then_solved_from_the_pool(sandbox):
    pool = TaskPool()
    env = CodeChallengeEnv(pool, sandbox=sandbox)
    _, reward, terminated, _, info = _step(env, P.VALID)
    assert (reward, terminated, info["valid"], info["added"]) == (1.0, True, True, True)
    assert len(pool) == 1 and info["verdict"]["passed"]
    task = pool.tasks()[0]
    assert task.payload["entry_point"] == "sum_even" and task.source == "generated"
    solver = CodeTaskEnv(pool, sandbox=sandbox)
    obs, info = solver.reset(seed=0)
    assert info["task_id"] == task.id and "sum of the even numbers" in obs
    assert solver.step(f"```python\n{P.SUM_EVEN_SOLUTION}```")[1] == 1.0


@pytest.mark.parametrize("proposal, stage, words", [
    (P.WEAK_TESTS, "failure_cases", "failure case 2 passes every check"),
    (P.WRONG_SOLUTION, "solution", "the example solution fails: test_basic"),
    (P.BROKEN_VERIFICATION, "structure", "verification has a SyntaxError"),
])
def test_invalid_proposals_say_why(sandbox, proposal, stage, words):
    pool = TaskPool()
    env = CodeChallengeEnv(pool, sandbox=sandbox)
    obs, reward, terminated, _, info = _step(env, proposal)
    assert reward == 0.0 and terminated and info["valid"] is False and len(pool) == 0
    assert info["validation"]["stage"] == stage and words in obs


def test_unreadable_proposal_is_an_action_error():
    env = CodeChallengeEnv()
    obs, reward, terminated, truncated, info = _step(env, P.UNREADABLE)
    assert reward == 0.0 and terminated and "cannot be read" in info["action_error"]


def test_revision_turns_get_the_reasons(sandbox):
    env = CodeChallengeEnv(max_attempts=2, sandbox=sandbox)
    obs, reward, terminated, _, _ = _step(env, P.WEAK_TESTS)
    assert not terminated and "Revise it; 1 attempt(s) left" in obs
    _, reward, terminated, _, info = env.step(P.VALID)
    assert terminated and reward == 1.0 and info["added"]


def test_copies_and_duplicates_are_rejected(sandbox):
    pool = TaskPool()
    env = CodeChallengeEnv(pool, sandbox=sandbox)
    env.reset(seed=0)
    example = next(t for t in load_bundled() if t.id == env.task.payload["examples"][0])
    from selfgym.envs.code.proposal import format_proposal

    _, reward, _, _, info = env.step(format_proposal(example))
    assert reward == 0.0 and "duplicates the existing task" in info["verdict"]["error"]
    assert _step(env, P.VALID)[1] == 1.0
    _, reward, _, _, info = _step(env, P.VALID.replace("list of integers", "list of  integers"))
    assert reward == 0.0 and info["verdict"]["checks"][0]["name"] == "novelty" and len(pool) == 1


def test_validity_reward_and_no_policy_in_the_step(sandbox):
    pool = TaskPool()
    env = CodeChallengeEnv(pool, add_to_pool=False, sandbox=sandbox)
    _, reward, _, _, info = _step(env, P.VALID)
    assert reward == 1.0 and info["valid"] and not info["added"] and len(pool) == 0
    assert "solver" not in inspect.signature(CodeChallengeEnv).parameters  # the loop pays learnability


def test_oracle_proposal_is_valid(sandbox):
    env = gym.make("selfgym/CodeChallenge-v0", sandbox=sandbox)
    for seed in range(3):
        env.reset(seed=seed)
        _, reward, terminated, _, info = env.step(env.unwrapped.cheat())
        assert reward == 1.0 and info["valid"], info.get("validation")


def test_infra_failure_while_validating_is_masked_not_zero():
    from selfgym.verifiers import get_sandbox

    dead = get_sandbox("process")
    dead.close()
    env = CodeChallengeEnv(sandbox=dead, on_infra_error="mask")
    _, reward, terminated, truncated, info = _step(env, P.VALID)
    assert math.isnan(reward) and info["reward_valid"] is False and truncated and info["valid"] is None


def test_pool_dedupes_bounds_records_and_pickles(tmp_path):
    tasks = load_bundled()[:4]
    pool = TaskPool(tasks, max_size=3)
    assert len(pool) == 3 and tasks[0].id not in pool  # oldest dropped
    assert not pool.add(tasks[1])
    pool.record(tasks[1].id, 1.0)
    pool.record(tasks[1].id, 0.0)
    assert pool.pass_rate(tasks[1].id) == 0.5 and pool.pass_rate(tasks[2].id) is None
    path = tmp_path / "pool.jsonl"
    assert pool.save(str(path)) == 3
    assert [t.id for t in TaskPool.load(str(path)).tasks()] == [t.id for t in pool.tasks()]
    clone = pickle.loads(pickle.dumps(pool))
    assert len(clone) == 3 and clone.pass_rate(tasks[1].id) == 0.5
    with pytest.raises(TaskError, match="holds code tasks"):
        pool.add(parse_proposal(P.VALID).__class__(id="x", family="arithmetic", prompt="p"))
