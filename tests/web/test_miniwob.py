"""The real MiniWoB++ backend: 125 ids, scripted policies that read only the observation solve
tasks end to end in Chromium, agent mistakes are observations, browser failures are
infrastructure errors, and no browser process outlives its Python process."""

from __future__ import annotations

import importlib.util
import math
import os
import re
import subprocess
import sys
import textwrap
import time

import gymnasium as gym
import pytest

import selfgym  # noqa: F401
from selfgym.envs.miniwob import browser as shared
from selfgym.envs.miniwob.catalog import task_names, text_solvable
from selfgym.envs.miniwob.env import MiniWoBEnv, pids_of_owner
from selfgym.envs.miniwob.scripted import POLICIES
from selfgym.errors import VerifierError
from selfgym.registration import catalog

pytestmark = pytest.mark.browser


def test_all_125_tasks_are_registered_as_the_wheel_lists_them():
    origin = os.path.dirname(importlib.util.find_spec("miniwob").origin)
    with open(os.path.join(origin, "registration.py")) as f:
        official = {m for m in re.findall(r'id="miniwob/([\w-]+)-v1"', f.read())}
    assert len(task_names()) == 125 and set(task_names()) == official
    ids = {e.id for e in catalog() if e.family == "miniwob"}
    assert ids == {f"selfgym/MiniWoB-{n}-v0" for n in task_names()}
    assert text_solvable("click-button") and not text_solvable("drag-box")
    assert 70 <= sum(map(text_solvable, task_names())) < 125


@pytest.fixture(scope="module")
def envs():
    made = {}
    yield made
    for env in made.values():
        env.close()


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_scripted_policy_solves_task_in_chromium(name, envs):
    env = envs.setdefault("shared", gym.make("selfgym/MiniWoB-click-button-v0"))
    policy = POLICIES[name]
    for seed in range(3):
        task = MiniWoBEnv(name).task_set(1, seed=100 + seed)[0]  # no browser until a reset
        obs, info = env.reset(options={"task": task})
        assert info["instruction"] in obs
        for _ in range(env.unwrapped.step_cap):
            obs, reward, terminated, truncated, info = env.step(policy(obs))
            assert "action_error" not in info, info["action_error"]
            if terminated or truncated:
                break
        assert terminated and reward == 1.0, (name, seed, obs)
        assert info["verdict"]["passed"] and info["raw_reward"] > 0.5


def test_observation_and_errors_share_the_simulated_interface(envs):
    env = envs.setdefault("login", MiniWoBEnv("login-user"))
    obs, info = env.reset(seed=4)
    assert obs.startswith('Instruction: Enter the username "')
    assert re.search(r"\[\d+\] textbox 'Username'", obs) and re.search(r"\[\d+\] button 'Login'", obs)
    button = next(e for e in info["elements"] if e["role"] == "button")
    for action, message in [("click('4242')", "no element with id '4242'"),
                            (f"fill('{button['id']}', 'x')", "fill failed"),
                            ("press('NoSuchKey')", "press failed"),
                            ("look around", "no action found")]:
        obs, reward, terminated, truncated, info = env.step(action)
        assert message in info["action_error"] and "Last action error" in obs
        assert reward == 0.0 and not terminated
    box = next(e for e in info["elements"] if e["role"] == "textbox")
    obs, *_ = env.step(f"fill('{box['id']}', 'abc')")
    assert f"[{box['id']}] textbox 'Username' value='abc' focused" in obs
    assert env.unwrapped._page.evaluate("core.EPISODE_MAX_TIME") > 10**9  # the page timer is out of reach


def test_seeds_are_deterministic_and_tasks_switch_on_reset(envs):
    env = envs.setdefault("login", MiniWoBEnv("login-user"))
    a, _ = env.reset(seed=11)
    b, _ = env.reset(seed=11)
    c, _ = env.reset(seed=12)
    assert a == b and a != c
    other = MiniWoBEnv("click-button").task_set(2, seed=5)
    obs, info = env.reset(options={"task": other[1]})
    assert info["task_id"] == "miniwob/click-button/6" and "button" in obs
    assert info["difficulty"] == {"step_cap": 10, "text_solvable": 1}


def test_step_cap_truncates_without_a_wall_clock(envs):
    env = envs.setdefault("login", MiniWoBEnv("login-user"))
    env.unwrapped.max_steps_override = 2
    try:
        env.reset(seed=1)
        assert not env.step("noop()")[3]
        _, reward, terminated, truncated, info = env.step("noop()")
        assert truncated and not terminated and reward == 0.0
    finally:
        env.unwrapped.max_steps_override = None


def test_browser_failure_is_an_infrastructure_error_never_zero():
    env = MiniWoBEnv("click-test")
    masked = MiniWoBEnv("click-test", on_infra_error="mask")
    env.reset(seed=0)
    masked.reset(seed=0)
    shared.shutdown()  # the browser dies under both envs
    with pytest.raises(VerifierError):
        env.step("click('2')")
    _, reward, terminated, _, info = masked.step("click('2')")
    assert math.isnan(reward) and info["reward_valid"] is False and terminated
    env.close()
    masked.close()
    fresh = MiniWoBEnv("click-test")  # the next env starts a new browser
    _, info = fresh.reset(seed=0)
    assert info["elements"]
    fresh.close()


_CHILD = textwrap.dedent("""
    import os, signal, sys
    from selfgym.envs.miniwob.env import MiniWoBEnv
    from selfgym.envs.miniwob import browser
    env = MiniWoBEnv("click-button")
    env.reset(seed=0)
    print(browser.owner_tag(), flush=True)
    if sys.argv[1] == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    env.close()
""")


@pytest.mark.parametrize("how", ["close", "crash"])
def test_no_browser_process_is_left_behind(how):
    out = subprocess.run([sys.executable, "-c", _CHILD, how], capture_output=True, text=True, timeout=120)
    tag = out.stdout.strip().splitlines()[0]
    assert (out.returncode == -9) == (how == "crash"), out.stderr
    deadline = time.time() + 20
    while pids_of_owner(tag) and time.time() < deadline:
        time.sleep(0.2)
    assert pids_of_owner(tag) == []


def test_structured_reflection_works_over_real_pages():
    from selfgym.envs.web.reflection import StructuredReflection

    env = StructuredReflection(MiniWoBEnv("click-button"))
    try:
        obs, info = env.reset(seed=21)
        target = re.search(r'"([^"]+)" button', info["instruction"]).group(1)
        buttons = [e for e in info["elements"] if e["role"] == "button"]
        right = next(b for b in buttons if b["name"] == target)
        wrong = next(b for b in buttons if b["name"] != target)
        _, reward, terminated, _, _ = env.step(f"click('{wrong['id']}')")
        assert terminated and reward == 0.0
        env.reflect(0, f"click('{wrong['id']}')", f"click('{right['id']}')", disable=[wrong["id"]])
        obs, info = env.reset(seed=21)
        assert f"[{wrong['id']}]" not in obs and f"[{right['id']}] button '{target}'" in obs  # same ids next trial
        _, reward, terminated, _, info = env.step(f"click('{wrong['id']}')")
        assert terminated and reward == 1.0 and info["reflection"]["substituted"]
    finally:
        env.close()
