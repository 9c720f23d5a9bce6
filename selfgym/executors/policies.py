"""Scripted policies that give the same actions whatever executor runs the envs.

``ShadowOracle(env_id)`` plays each env's oracle ``cheat()`` without reaching into the env
being driven: for every episode it keeps a *shadow*, a local env of the same id reset with the
same seed and options and stepped with the same actions, and asks the shadow's ``cheat()``.
With ``oracle_rate < 1`` some steps instead play a random printable string drawn from a
generator seeded by (episode seed, step), which exercises each env's malformed-action path.
Its actions depend only on the episode's seed, options and its own earlier actions, so every
executor must produce the same trajectories.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from selfgym.executors.driver import KeyedAgent
from selfgym.spaces import CHARSET


class ShadowOracle(KeyedAgent):
    """The oracle (``cheat()``) through a shadow env per episode (see the module doc)."""

    name = "shadow-oracle"

    def __init__(self, env_id: str, env_kwargs: dict[str, Any] | None = None, *, oracle_rate: float = 1.0,
                 max_length: int = 24):
        self.env_id, self.env_kwargs = env_id, dict(env_kwargs or {})
        self.oracle_rate, self.max_length = oracle_rate, max_length
        self._idle: list[Any] = []
        self._live: dict[Hashable, dict[str, Any]] = {}

    def _env(self):
        from selfgym.executors.local import make_env

        return self._idle.pop() if self._idle else make_env(self.env_id, self.env_kwargs)

    def begin_episode(self, key, seed, options):
        env = self._env()
        env.reset(seed=seed, options=options)
        self._live[key] = {"env": env, "seed": seed, "t": 0, "last": None}

    def _action(self, ep: dict[str, Any]) -> str:
        env = ep["env"]
        if ep["last"] is not None:  # bring the shadow level with the real env before asking it
            env.step(ep["last"])
        rng = np.random.default_rng([ep["seed"] if ep["seed"] is not None else 0, ep["t"]])
        if rng.random() < self.oracle_rate:
            action = env.unwrapped.cheat()
        else:
            n = int(rng.integers(1, self.max_length + 1))
            action = "".join(CHARSET[i] for i in rng.integers(0, len(CHARSET), n))
        ep["last"] = action
        ep["t"] += 1
        return action

    def act_episodes(self, keys: Sequence[Hashable], observations, infos) -> list[str]:
        return [self._action(self._live[k]) for k in keys]

    def end_episode(self, key):
        ep = self._live.pop(key, None)
        if ep is not None:
            self._idle.append(ep["env"])

    def close(self) -> None:
        for ep in self._live.values():
            self._idle.append(ep["env"])
        self._live.clear()
        for env in self._idle:
            try:
                env.close()
            except Exception:  # noqa: BLE001
                pass
        self._idle.clear()
