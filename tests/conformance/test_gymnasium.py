"""Every registered Gymnasium id passes Gymnasium's own checker, seeds deterministically, and
has a spec that serialises. Parametrised over the catalogue: new envs are checked automatically."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import selfgym
from selfgym.registration import catalog

ENTRIES = catalog("gymnasium")
IDS = [e.id for e in ENTRIES]


def _make(entry):
    return gym.make(entry.id, **entry.check_kwargs)


def test_catalogue_is_not_empty():
    assert "selfgym/Arithmetic-v0" in IDS


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_check_env(entry):
    env = _make(entry)
    try:
        check_env(env.unwrapped, skip_render_check=False)
    finally:
        env.close()


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_seeded_reset_is_deterministic_and_in_space(entry):
    a, b = _make(entry), _make(entry)
    try:
        obs_a, info_a = a.reset(seed=1234)
        obs_b, info_b = b.reset(seed=1234)
        assert a.observation_space.contains(obs_a)
        assert str(obs_a) == str(obs_b)
        assert info_a["task_id"] == info_b["task_id"]
        for key in ("task_id", "messages", "tools", "difficulty"):
            assert key in info_a, f"info lacks {key!r}"
        action = a.action_space.sample()
        obs, reward, terminated, truncated, info = a.step(action)
        assert a.observation_space.contains(obs)
        assert isinstance(reward, float)
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_spec_serialises(entry):
    spec = gym.spec(entry.id)
    assert gym.envs.registration.EnvSpec.from_json(spec.to_json()).id == entry.id


def test_make_with_module_prefix_in_fresh_interpreter():
    code = "import gymnasium as gym; e = gym.make('selfgym:selfgym/Arithmetic-v0'); o, _ = e.reset(seed=0); print(type(o).__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "str"


def test_register_envs_accepts_the_package():
    gym.register_envs(selfgym)
    assert "selfgym/Arithmetic-v0" in gym.registry


def test_import_is_cheap():
    code = "import sys, selfgym; heavy = [m for m in ('torch', 'docker', 'playwright', 'transformers', 'vllm') if m in sys.modules]; print(heavy)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
