"""Scripted baselines: agents without a model, for smoke tests, floors and plumbing checks.

- ``ConstantAgent(text)``: always the same action (an empty answer is the usual floor).
- ``ReplayAgent(actions)``: plays a fixed list of actions in turn, per env slot order.
- ``RandomAgent(seed)``: a random short string from the printable charset (what ``action_space.sample()``
  gives, kept short); a floor that also exercises every env's malformed-action path.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from selfgym.agent import Agent
from selfgym.spaces import CHARSET


class ConstantAgent(Agent):
    """Always answers ``text``."""

    name = "constant"

    def __init__(self, text: str = ""):
        self.text = text

    def act(self, observation: Any, info: dict[str, Any]) -> str:
        return self.text


class ReplayAgent(Agent):
    """Plays ``actions`` in order, cycling when they run out."""

    name = "replay"

    def __init__(self, actions: Sequence[str]):
        if not actions:
            raise ValueError("ReplayAgent needs at least one action")
        self.actions = list(actions)
        self.i = 0

    def act(self, observation: Any, info: dict[str, Any]) -> str:
        action = self.actions[self.i % len(self.actions)]
        self.i += 1
        return action

    def reset(self) -> None:
        self.i = 0


class RandomAgent(Agent):
    """Random printable text of 1..``max_length`` characters (seeded)."""

    name = "random"

    def __init__(self, seed: int = 0, max_length: int = 32):
        self.rng = np.random.default_rng(seed)
        self.max_length = max_length

    def act(self, observation: Any, info: dict[str, Any]) -> str:
        n = int(self.rng.integers(1, self.max_length + 1))
        return "".join(CHARSET[i] for i in self.rng.integers(0, len(CHARSET), n))
