"""Simulated web tasks: every oracle succeeds, random play almost never does, and the env keeps
the shared contract (errors as observations, step caps, partial credit, task options)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import selfgym
from selfgym.envs.web import SIM_TASKS
from selfgym.envs.web.env import SimWebEnv
from selfgym.envs.web.tasks import TASKS

SEEDS = range(8)


def play(env, policy, seed=None, options=None, limit=100):
    obs, info = env.reset(seed=seed, options=options)
    for _ in range(limit):
        obs, reward, terminated, truncated, info = env.step(policy(obs, info))
        if terminated or truncated:
            return reward, terminated, info
    raise AssertionError("episode did not end")


def random_action(info, rng):
    """A random but well-formed action on a random element of the current page."""
    els = [e for e in info["elements"] if e["id"] is not None]
    e = els[int(rng.integers(len(els)))]
    u = rng.random()
    words = ["abc", "Submit", "amber", "11/02/2026", "Oslo"]
    if u < 0.55:
        return f"click('{e['id']}')"
    if u < 0.7:
        return f"fill('{e['id']}', '{words[int(rng.integers(len(words)))]}')"
    if u < 0.75:
        opts = [s[8:].split("|") for s in e["states"] if s.startswith("options=")]
        return f"select_option('{e['id']}', '{opts[0][int(rng.integers(len(opts[0])))]}')" if opts else "noop()"
    if u < 0.8:
        return f"press('{e['id']}', 'Enter')"
    if u < 0.85:
        return "scroll('down')" if rng.random() < 0.7 else "scroll('up')"
    if u < 0.9:
        return f"hover('{e['id']}')"
    if u < 0.95:
        return "noop()"
    return "send_msg_to_user('what is the name?')"


def test_catalogue_lists_every_task_and_at_least_25():
    assert sorted(TASKS) == sorted(SIM_TASKS)
    assert len(SIM_TASKS) >= 25
    for name in SIM_TASKS:
        assert f"selfgym/Web-{name}-v0" in gym.registry
        assert 10 <= TASKS[name].max_steps <= 30


@pytest.mark.parametrize("name", SIM_TASKS)
def test_oracle_reaches_reward_one(name):
    env = gym.make(f"selfgym/Web-{name}-v0")
    for seed in SEEDS:
        reward, terminated, info = play(env, lambda o, i: env.unwrapped.cheat(), seed=seed)
        assert terminated and reward == 1.0, (name, seed, info.get("verdict"))
        assert info["verdict"]["passed"] and info["partial_credit"] == 1.0
        assert info["raw_reward"] > 0


def test_random_policy_almost_never_succeeds():
    rng = np.random.default_rng(0)
    rates = {}
    for name in SIM_TASKS:
        env = gym.make(f"selfgym/Web-{name}-v0")
        wins = sum(play(env, lambda o, i: random_action(i, rng), seed=s)[0] == 1.0 for s in range(60))
        rates[name] = wins / 60
    assert np.mean(list(rates.values())) < 0.06, rates
    assert max(rates.values()) <= 0.3, rates
    typing_tasks = ["enter-text", "login-user", "fill-form", "book-flight", "email-inbox-reply", "ask-followup"]
    assert all(rates[n] == 0 for n in typing_tasks), rates


def test_seeded_tasks_are_deterministic_and_differ_across_seeds():
    env = SimWebEnv("book-flight")
    a, _ = env.reset(seed=3)
    b, _ = env.reset(seed=3)
    c, _ = env.reset(seed=4)
    assert a == b and a != c


def test_observation_lists_elements_with_ids_roles_values_and_states():
    env = SimWebEnv("fill-form")
    obs, info = env.reset(seed=0)
    assert obs.startswith("Instruction: Fill the form")
    box = next(e for e in info["elements"] if e["role"] == "textbox")
    obs, *_ , info = env.step(f"fill('{box['id']}', 'Ada')")
    assert f"[{box['id']}] textbox 'Full name' value='Ada' focused" in obs
    assert info["elements"][0]["role"] == "RootWebArea"
    assert "options=" in obs and "checkbox 'Subscribe'" in obs


@pytest.mark.parametrize("action, message", [
    ("click('999')", "no element with id '999'"),
    ("fill('1', 'x')", "no element with id '1'"),  # the root is not a target
    ("please click it", "no action found"),
    ("select_option('2', 'x')", "not a drop-down"),
])
def test_agent_mistakes_are_error_observations(action, message):
    env = SimWebEnv("enter-text")
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(action)
    assert message in info["action_error"] and f"Last action error: " in obs
    assert reward == 0.0 and not terminated and not truncated


def test_hidden_and_disabled_elements_cannot_be_used():
    env = SimWebEnv("click-tab")
    _, info = env.reset(seed=1)
    hidden_link = next(e for e in env.unwrapped.page.find_all("link", visible=False) if e.parent.hidden)
    _, _, _, _, info = env.step(f"click('{hidden_link.id}')")
    assert "not visible" in info["action_error"]
    env = SimWebEnv("wait-button")
    env.reset(seed=0)
    btn = env.page.find("button", env.task.payload["label"])
    _, _, _, _, info = env.step(f"click('{btn.id}')")
    assert "disabled" in info["action_error"]


def test_scrolling_is_needed_to_reach_items_below_the_view():
    env = SimWebEnv("click-scroll-list")
    obs, info = env.reset(seed=0)
    last = env.page.find_all("option")[-1]
    assert f"[{last.id}]" not in obs and "line(s) below" in obs
    _, _, _, _, info = env.step(f"click('{last.id}')")
    assert "scroll first" in info["action_error"]
    scrolls = 0
    while f"[{last.id}]" not in obs and scrolls < 6:
        obs, *_ = env.step("scroll('down')")
        scrolls += 1
    assert f"[{last.id}]" in obs and scrolls >= 2
    _, _, _, _, info = env.step(f"click('{last.id}')")
    assert "action_error" not in info and last.selected


def test_step_cap_truncates_with_reward_zero():
    env = SimWebEnv("enter-text", max_steps=3)
    env.reset(seed=0)
    for _ in range(2):
        assert not env.step("noop()")[3]
    obs, reward, terminated, truncated, info = env.step("noop()")
    assert truncated and not terminated and reward == 0.0 and info["verdict"]["passed"] is False
    assert "step cap" in obs


def test_partial_credit_is_in_info_and_optionally_the_reward():
    env = SimWebEnv("fill-form", reward="partial")
    env.reset(seed=2)
    name_box = env.page.find("textbox", "Full name")
    _, reward, _, _, info = env.step(f"fill('{name_box.id}', {env.task.payload['name']!r})")
    assert info["partial_credit"] >= 0.25
    submit = env.page.find("button", "Submit")
    _, reward, terminated, _, info = env.step(f"click('{submit.id}')")
    assert terminated and 0 < reward < 1 and reward == info["partial_credit"]
    assert info["verdict"]["passed"] is False


def test_followup_question_gets_the_missing_detail():
    env = SimWebEnv("ask-followup")
    obs, _ = env.reset(seed=5)
    payload = env.task.payload
    missing = payload["values"][payload["missing"]]
    assert missing not in obs
    obs, *_ = env.step("send_msg_to_user('Could you tell me more?')")
    assert "User says:" in obs and missing not in obs
    label = env.unwrapped.page.find_all("textbox")[["recipient", "city", "amount"].index(payload["missing"])].name
    obs, *_ = env.step(f"send_msg_to_user('What is the {label.lower()}?')")
    assert f"User says: " in obs and missing in obs


def test_reset_accepts_any_web_task_and_task_set():
    env = SimWebEnv("click-button")
    tasks = SimWebEnv("login-user").task_set(5, seed=1)
    assert len(tasks) == 5 and all(t.payload["task"] == "login-user" for t in tasks)
    assert [t.id for t in tasks] == [t.id for t in SimWebEnv("login-user").task_set(5, seed=1)]
    for t in tasks:
        assert {"oracle_steps", "elements", "step_cap"} <= set(t.difficulty)
        assert all(isinstance(v, (int, float)) for v in t.difficulty.values())
        reward, _, info = play(env, lambda o, i: env.cheat(), options={"task": t.to_dict()})
        assert reward == 1.0 and info["task_id"] == t.id
    mixed = SimWebEnv().task_set()
    assert len({t.payload["task"] for t in mixed}) == 20
    with pytest.raises(selfgym.errors.TaskError):
        env.reset(options={"task": {"id": "x", "family": "arithmetic", "prompt": "1+1"}})
