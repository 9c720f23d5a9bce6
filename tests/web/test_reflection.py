"""Structured reflection: corrections carry over to the next trial of the same seeded task."""

import gymnasium as gym
import pytest

import selfgym  # noqa: F401
from selfgym.envs.web.reflection import StructuredReflection
from selfgym.errors import ConfigError



def test_wrong_click_is_corrected_and_its_element_hidden():
    env = StructuredReflection(gym.make("selfgym/Web-click-button-v0"))
    obs, info = env.reset(seed=7)
    page = env.unwrapped.page
    target = env.unwrapped.task.payload["target"]
    right = page.find("button", target)
    wrong = next(b for b in page.find_all("button") if b.name != target)
    _, reward, terminated, _, _ = env.step(f"click('{wrong.id}')")
    assert terminated and reward == 0.0
    env.reflect(0, f"click('{wrong.id}')", f"click('{right.id}')", disable=[str(wrong.id)])

    obs, info = env.reset(seed=7)
    assert f"[{wrong.id}]" not in obs and f"[{right.id}]" in obs
    assert "Reflection: at step 0" in obs
    assert str(wrong.id) not in {e["id"] for e in info["elements"]}
    assert info["reflection"]["trial"] == 2
    # The agent repeats its mistake: the correction is applied instead.
    _, reward, terminated, _, info = env.step(f"click({wrong.id})")
    assert terminated and reward == 1.0 and info["reflection"]["substituted"]


def test_replay_resumes_at_the_mistake_step():
    env = StructuredReflection(gym.make("selfgym/Web-login-user-v0"))
    env.reset(seed=3)
    payload = env.unwrapped.task.payload
    page = env.unwrapped.page
    user, pw, login = page.find("textbox", "Username"), page.find("textbox", "Password"), page.find("button", "Login")
    trial = [f"fill('{user.id}', {payload['username']!r})", f"fill('{pw.id}', 'oops')", f"click('{login.id}')"]
    for a in trial:
        _, reward, terminated, _, _ = env.step(a)
    assert terminated and reward == 0.0
    prompt = env.reflection_prompt()
    assert "step 1: fill" in prompt and "mistake_step" in prompt
    reply = ('The password was wrong. {"mistake_step": 1, "wrong_action": "fill(\'%s\', \'oops\')", '
             '"corrected_action": "fill(\'%s\', \'%s\')", "disable_ids": []}' % (pw.id, pw.id, payload["password"]))
    assert env.reflect_from_text(reply).step == 1

    obs, info = env.reset(seed=3)
    assert info["reflection"]["replayed"] == 1
    assert f"value='{payload['username']}'" in obs  # step 0 was replayed
    _, _, _, _, info = env.step(f"fill('{pw.id}', 'oops')")
    assert info["reflection"]["substituted"]
    _, reward, terminated, _, _ = env.step(f"click('{login.id}')")
    assert terminated and reward == 1.0


def test_other_tasks_have_their_own_memory_and_bad_input_is_refused():
    env = StructuredReflection(gym.make("selfgym/Web-click-button-v0"))
    with pytest.raises(ConfigError):
        env.reflect(0, "noop()", "noop()")
    env.reset(seed=1)
    env.reflect(0, "click('2')", "click('3')", disable=["2"])
    obs, info = env.reset(seed=2)
    assert "Reflection" not in obs and info["reflection"]["corrections"] == []
    assert env.reflect_from_text("no json here") is None
    with pytest.raises(ConfigError):
        StructuredReflection(gym.make("selfgym/Arithmetic-v0"))
