"""CurriculumWrapper on real envs: Arithmetic-v0 and the reasoning envs, vectorised too."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

import selfgym
from selfgym.curricula import CurriculumWrapper, ExItSampler, LearnabilitySampler, LevelSampler, UniformSampler, task_set_of
from selfgym.envs.arithmetic import task as arith
from selfgym.errors import ConfigError


def _arith_tasks(n_per_level=3, levels=(1, 2, 3)):
    rng = np.random.default_rng(0)
    return [arith.generate(rng, lvl) for lvl in levels for _ in range(n_per_level)]


def _play(env, action_fn, seed=None):
    obs, info = env.reset(seed=seed)
    while True:
        obs, r, term, trunc, step_info = env.step(action_fn(env, obs, info))
        if term or trunc:
            return info, step_info


def test_wrapper_plays_the_sampled_task_and_reports_its_score():
    tasks = _arith_tasks()
    sampler = UniformSampler(tasks, seed=0)
    env = CurriculumWrapper(gym.make("selfgym/Arithmetic-v0"), sampler)
    ids = {t.id for t in tasks}
    for i in range(6):
        solve = i % 2 == 0
        info, last = _play(env, lambda e, o, inf: arith.cheat(e.unwrapped.task) if solve else "no idea", seed=i)
        assert info["task_id"] in ids and info["curriculum"]["task_id"] == info["task_id"]
        assert info["curriculum"]["sampler"] == "uniform"
        assert last["curriculum_score"] == (1.0 if solve else 0.0)
    assert sampler.steps == 6
    assert sum(st.total for st in sampler.stats.values()) == 3.0


def test_an_explicit_task_wins_and_is_still_reported():
    tasks = _arith_tasks()
    sampler = UniformSampler(tasks, seed=0)
    env = CurriculumWrapper(gym.make("selfgym/Arithmetic-v0"), sampler)
    chosen = tasks[4]
    obs, info = env.reset(options={"task": chosen.to_dict()})
    assert info["task_id"] == chosen.id and chosen.prompt in obs
    env.step(arith.cheat(chosen))
    assert sampler.stats[chosen.id].count == 1


def test_levels_climb_on_arithmetic_with_the_oracle():
    sampler = LevelSampler(_arith_tasks(), seed=0, threshold=0.8, min_episodes=3, window=3, replay=0.0)
    env = CurriculumWrapper(gym.make("selfgym/Arithmetic-v0"), sampler, score="success")
    seen = []
    for i in range(9):
        info, _ = _play(env, lambda e, o, inf: arith.cheat(e.unwrapped.task), seed=i)
        seen.append(info["difficulty"]["level"])
    assert seen == [1, 1, 1, 2, 2, 2, 3, 3, 3]


def test_reseeding_makes_the_task_sequence_reproducible():
    def sequence(seed):
        env = CurriculumWrapper(gym.make("selfgym/Arithmetic-v0"), UniformSampler(_arith_tasks(), seed=0))
        return [env.reset(seed=seed + i)[1]["task_id"] for i in range(5)]

    assert sequence(10) == sequence(10)
    assert sequence(10) != sequence(20)


def test_reasoning_envs_through_their_task_sets():
    for env_id, kwargs in (("selfgym/Reasoning-v0", {"dataset": ["basic_arithmetic", "chain_sum"]}),
                           ("selfgym/Integration-v0", {})):
        base = gym.make(env_id, **kwargs)
        tasks = task_set_of(base, n=6, seed=1)
        assert len(tasks) == 6
        sampler = LearnabilitySampler(tasks, seed=0)
        env = CurriculumWrapper(base, sampler)
        for i in range(4):
            info, last = _play(env, lambda e, o, inf: e.unwrapped.cheat(), seed=i)
            assert info["task_id"] in {t.id for t in tasks}
            assert last["curriculum_score"] == 1.0 and last["verdict"]["passed"]
        assert sampler.steps == 4


def test_partial_scores_from_a_scorer_reach_the_sampler():
    base = gym.make("selfgym/Reasoning-v0", dataset="countdown", level=0)
    tasks = task_set_of(base, n=2)
    sampler = UniformSampler(tasks, seed=0)
    env = CurriculumWrapper(base, sampler)
    _, last = _play(env, lambda e, o, inf: "<answer>1 + 1</answer>")  # a valid but wrong expression
    assert 0.0 < last["curriculum_score"] < 1.0  # countdown's scorer gives partial credit
    assert sampler.stats[env.task.id].total == last["curriculum_score"]


def _unreachable_sandbox():
    # a verifier service that is not there (a closed loopback port): every job is an infrastructure failure
    from selfgym.verifiers.remote import RemoteSandbox

    return RemoteSandbox(url="http://127.0.0.1:9", token="t" * 32, retries=0)


def test_a_masked_infrastructure_error_is_never_a_score():
    base = gym.make("selfgym/CodeTask-v0", sandbox=_unreachable_sandbox(), on_infra_error="mask", max_attempts=1)
    sampler = UniformSampler(task_set_of(base, n=3), seed=0)
    env = CurriculumWrapper(base, sampler)
    env.reset(seed=0)
    _, reward, _, truncated, info = env.step(env.unwrapped.cheat())  # right code, but nothing can verify it
    assert truncated and math.isnan(reward) and info["reward_valid"] is False  # the episode is cut short
    assert math.isnan(info["curriculum_score"])
    assert sampler.steps == 0
    raising = CurriculumWrapper(gym.make("selfgym/CodeTask-v0", sandbox=_unreachable_sandbox(), max_attempts=1),
                                sampler)
    raising.reset(seed=0)
    with pytest.raises(selfgym.VerifierError):
        raising.step(raising.unwrapped.cheat())
    assert sampler.steps == 0


def test_exit_grows_starts_and_reports_improvement():
    tasks = _arith_tasks(n_per_level=2, levels=(2,))
    sampler = ExItSampler(tasks, seed=0, p_exit=1.0)
    env = CurriculumWrapper(gym.make("selfgym/Arithmetic-v0", max_attempts=1), sampler)
    _play(env, lambda e, o, inf: "7", seed=0)  # wrong: becomes a start for self-iteration
    assert len(sampler.buffer) == 1
    obs, info = env.reset(seed=1)
    assert "earlier attempt" in obs and "7" in obs and info["difficulty"]["exit_depth"] == 1
    _, _, _, _, last = env.step(arith.cheat(env.task))
    assert last["improvement_reward"] == 1.0


def test_score_modes_and_their_errors():
    with pytest.raises(ConfigError, match="score must be one of"):
        CurriculumWrapper(gym.make("selfgym/Arithmetic-v0"), UniformSampler(_arith_tasks()), score="best")
    env = CurriculumWrapper(gym.make("selfgym/Arithmetic-v0", max_attempts=2), UniformSampler(_arith_tasks()), score="return")
    _, last = _play(env, lambda e, o, inf: arith.cheat(e.unwrapped.task))
    assert last["curriculum_score"] == 1.0


def _make_wrapped(level_tasks):
    def factory():
        return CurriculumWrapper(gym.make("selfgym/Arithmetic-v0", max_attempts=1), LearnabilitySampler(level_tasks, seed=0))

    return factory


def test_wrapper_survives_async_vector_env():
    tasks = _arith_tasks()
    envs = gym.vector.AsyncVectorEnv([_make_wrapped(tasks) for _ in range(2)], shared_memory=False)
    try:
        obs, infos = envs.reset(seed=5)
        ids = {t.id for t in tasks}
        first = list(infos["task_id"])
        assert set(first) <= ids and first[0] != first[1]  # reseeded per copy
        seen = set(first)
        for _ in range(6):  # every step ends an episode; the next step autoresets with a new task
            obs, rewards, term, trunc, infos = envs.step(["0", "0"])
            seen |= {t for t in infos["task_id"] if t}
        assert len(seen) > 2 and seen <= ids
        counts = envs.call("sampler")
        assert all(s.steps == 3 for s in counts)  # each copy's sampler got its own episodes
    finally:
        envs.close()


def test_task_set_of_explains_a_missing_method():
    class Bare(gym.Env):
        observation_space = gym.spaces.Discrete(1)
        action_space = gym.spaces.Discrete(1)

    with pytest.raises(ConfigError, match="has no task_set"):
        task_set_of(Bare())
