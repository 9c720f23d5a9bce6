"""CodeTask-v0's ``sandbox=`` argument: backend names work, nonsense is refused at construction."""

import gymnasium as gym
import pytest

import selfgym  # noqa: F401 - registers the ids
from selfgym.envs.code.env import resolve_sandbox
from selfgym.errors import ConfigError
from selfgym.verifiers import docker_available


@pytest.mark.docker
@pytest.mark.skipif(not docker_available()[0], reason="no docker engine or image")
def test_a_backend_name_verifies_in_that_backend():
    backend = "docker"
    env = gym.make("selfgym/CodeTask-v0", sandbox=backend)
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.unwrapped.cheat())
    assert reward == 1.0 and terminated and info["verdict"]["status"] == "ok"
    assert resolve_sandbox(backend).name == backend
    assert resolve_sandbox(backend) is resolve_sandbox(backend)  # one shared sandbox per name
    # a wrong answer is still a wrong answer, judged in the same sandbox
    env.reset(seed=0)
    obs, reward, *_ = env.step("```python\ndef nothing():\n    return None\n```")
    assert reward == 0.0


@pytest.mark.parametrize("bad, words", [("dockr", "backend name"), (5, "got a int"), ({"backend": "docker"}, "got a dict")])
def test_anything_else_is_refused_when_the_env_is_built(bad, words):
    with pytest.raises(ConfigError, match=words):
        gym.make("selfgym/CodeTask-v0", sandbox=bad)
