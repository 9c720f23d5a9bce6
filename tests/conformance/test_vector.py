"""``gymnasium.make_vec`` with Gymnasium's default arguments gives the single envs' observations.

Async mode uses shared memory by default; Gymnasium reads a Text buffer only once, so without
``selfgym.spaces.TextSpace`` every observation silently came back as ``"0" * 16384``. One id of
every family, sync and async, reset and one step, compared with single envs seeded alike.
"""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import pytest

from selfgym.registration import catalog

_PREFERRED = {"miniwob": "selfgym/MiniWoB-click-button-v0", "web": "selfgym/Web-click-button-v0"}
FAMILY_IDS = sorted({e.family: _PREFERRED.get(e.family, e.id) for e in reversed(catalog("gymnasium"))}.values())
STEP = "no answer here"  # an action every family reads (as a mistake) without a model or sandbox


def _texts(obs) -> list[str]:
    if isinstance(obs, dict):  # Dict observation: compare the text part
        obs = obs["text"]
    return [str(o) for o in obs]


def test_one_id_per_family_is_covered():
    families = {e.family for e in catalog("gymnasium")}
    assert len(FAMILY_IDS) == len(families) >= 8


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("env_id", FAMILY_IDS)
def test_make_vec_defaults_match_single_envs(env_id, mode):
    if "MiniWoB" not in env_id:
        compare(env_id, mode)
        return
    # A browser must not be running when the async workers fork: a fresh interpreter.
    code = f"import runpy; runpy.run_path({__file__!r})['compare']({env_id!r}, {mode!r}); print('same')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0 and out.stdout.strip().endswith("same"), out.stderr[-2000:]


def compare(env_id: str, mode: str, n: int = 2, seed: int = 7) -> None:
    """Reset and one step: the vector env's observations equal the single envs'."""
    vec = gym.make_vec(env_id, n, vectorization_mode=mode)  # Gymnasium's defaults (shared memory)
    singles = [gym.make(env_id) for _ in range(n)]
    try:
        expected = [env.reset(seed=seed + i)[0] for i, env in enumerate(singles)]
        expected = [o["text"] if isinstance(o, dict) else o for o in expected]
        obs, _ = vec.reset(seed=seed)
        got = _texts(obs)
        assert got == expected
        assert all(o and o != "0" * len(o) for o in got)
        stepped = [env.step(STEP)[0] for env in singles]
        stepped = [o["text"] if isinstance(o, dict) else o for o in stepped]
        obs, *_ = vec.step([STEP] * n)
        assert _texts(obs) == stepped
    finally:
        vec.close()
        for env in singles:
            env.close()
