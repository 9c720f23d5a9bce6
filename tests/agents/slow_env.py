"""A deliberately slow Gymnasium env for the run command's budget and signal tests.

Each step sleeps ``delay`` seconds; an episode lasts ``length`` steps and pays 1 when the action
is "ok". Registered as ``slowtest/Slow-v0`` and ``slowtest/Slow2-v0`` by ``register()``.
"""

from __future__ import annotations

import time

import gymnasium as gym
from gymnasium import spaces

ENV_ID = "slowtest/Slow-v0"
ENV_ID2 = "slowtest/Slow2-v0"


class SlowEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, delay: float = 0.2, length: int = 2):
        self.delay, self.length = float(delay), int(length)
        self.observation_space = spaces.Text(64, charset="abcdefghijklmnopqrstuvwxyz ")
        self.action_space = spaces.Text(64, charset="abcdefghijklmnopqrstuvwxyz ")
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return "say ok", {"task_id": f"slow/{seed}", "family": "slowtest"}

    def step(self, action):
        time.sleep(self.delay)
        self.t += 1
        done = self.t >= self.length
        reward = 1.0 if done and action == "ok" else 0.0
        return "again", reward, done, False, {"task_id": "slow", "family": "slowtest"}


def register() -> None:
    for env_id in (ENV_ID, ENV_ID2):
        if env_id not in gym.registry:
            gym.register(env_id, entry_point=SlowEnv)
