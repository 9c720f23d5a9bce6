"""Curricula on every family: each registered Gymnasium id whose env offers task_set(n, seed)
plays sampler-chosen tasks through CurriculumWrapper, and its tasks carry numeric difficulty.
Parametrised over the catalogue, so a new family is checked as soon as it registers."""

from __future__ import annotations

import numbers

import gymnasium as gym
import pytest

import selfgym  # noqa: F401 - registers the ids
from selfgym.curricula import CurriculumWrapper, LearnabilitySampler, UniformSampler, task_set_of
from selfgym.registration import catalog, load_entry_point
from selfgym.types import Task

ENTRIES = [e for e in catalog("gymnasium") if hasattr(load_entry_point(e.entry_point), "task_set")]
IDS = [e.id for e in ENTRIES]


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def test_every_family_is_covered():
    families = {e.family for e in ENTRIES}
    assert {"arithmetic", "reasoning", "integration"} <= families
    missing = [e.id for e in catalog("gymnasium") if e.id not in IDS]
    assert not missing, f"these envs offer no task_set(n, seed), so curricula cannot drive them: {missing}"


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_curriculum_wrapper_drives_the_env(entry):
    env = gym.make(entry.id, **entry.check_kwargs)
    try:
        tasks = task_set_of(env, n=3, seed=0)
        assert tasks and all(isinstance(t, Task) for t in tasks)
        for t in tasks:
            assert t.difficulty, f"{t.id} has no difficulty attributes"
            bad = {k: v for k, v in t.difficulty.items() if not _is_number(v)}
            assert not bad, f"{t.id}: difficulty attributes must be numbers, got {bad}"
        sampler = UniformSampler(tasks, seed=0)
        wrapped = CurriculumWrapper(env, sampler)
        ids = {t.id for t in tasks}
        for seed in (0, 1):
            obs, info = wrapped.reset(seed=seed)
            assert info["task_id"] in ids and info["curriculum"]["task_id"] == info["task_id"]
            assert wrapped.observation_space.contains(obs)
            assert info["difficulty"] == wrapped.task.difficulty
    finally:
        env.close()


def _factory(entry, tasks):
    def make():
        return CurriculumWrapper(gym.make(entry.id, **entry.check_kwargs), LearnabilitySampler(tasks, seed=0))

    return make


@pytest.mark.parametrize("env_id", ["selfgym/ToolUse-v0", "selfgym/Integration-v0"])
def test_curriculum_wrapper_under_async_vector_env(env_id):
    entry = next(e for e in ENTRIES if e.id == env_id)
    probe = gym.make(entry.id, **entry.check_kwargs)
    tasks = task_set_of(probe, n=4, seed=0)
    probe.close()
    envs = gym.vector.AsyncVectorEnv([_factory(entry, tasks) for _ in range(2)], shared_memory=False)
    try:
        ids = {t.id for t in tasks}
        _, infos = envs.reset(seed=3)
        assert set(infos["task_id"]) <= ids
        assert list(infos["curriculum"]["sampler"]) == ["learnability", "learnability"]
        _, _, _, _, infos = envs.step(["I do not know.", "I do not know."])
        assert all(isinstance(x, str) for x in infos["task_id"])
    finally:
        envs.close()
