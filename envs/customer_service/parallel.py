"""Agent versus customer as a PettingZoo Parallel env: ``parallel_env()``.

The conversation is turn-based, so each ``step(actions)`` applies only the action of the seat
whose turn it is (``info["active_agent"]`` names it; the other seat's action is ignored), as
PettingZoo's ``turn_based_aec_to_parallel`` does and as the negotiation Parallel env does. The
rules, observations, rewards and ``info`` are those of the AEC env (``aec``), which this env runs
underneath: the same kwargs, the same seeds, the same tasks. When the conversation ends both
seats get the tau-bench reward, are terminated (or truncated at ``max_steps``) and leave
``agents``.
"""

from __future__ import annotations

from typing import Any

from gymnasium.error import ResetNeeded
from pettingzoo import ParallelEnv

from selfgym.envs.customer_service.aec import RENDER_MODES, CustomerServiceAECEnv
from selfgym.envs.customer_service.dialogue import SEATS
from selfgym.types import Task


class CustomerServiceParallelEnv(ParallelEnv):
    """Agent and customer under the Parallel API (see the module docstring)."""

    metadata = {"name": "selfgym_customer_service_parallel_v0", "render_modes": RENDER_MODES, "render_fps": 1}

    def __init__(self, **kwargs: Any):
        self.aec = CustomerServiceAECEnv(**kwargs)
        self.render_mode = self.aec.render_mode
        self.possible_agents = list(SEATS)
        self.agents: list[str] = []
        self.observation_spaces = self.aec.observation_spaces
        self.action_spaces = self.aec.action_spaces

    def observation_space(self, agent: str):
        return self.aec.observation_space(agent)

    def action_space(self, agent: str):
        return self.aec.action_space(agent)

    @property
    def task(self) -> Task | None:
        return self.aec.task

    @property
    def verdict(self):
        """The finished conversation's full ``Verdict`` (timings included), else None."""
        return self.aec.verdict

    def task_set(self, n: int | None = None, seed: int = 0) -> list[Task]:
        return self.aec.task_set(n, seed)

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        self.aec.reset(seed=seed, options=options)
        self.agents = list(SEATS)
        return self._observations(), self._infos()

    def _observations(self) -> dict[str, dict[str, Any]]:
        return {a: self.aec.observe(a) for a in SEATS}

    def _infos(self) -> dict[str, dict[str, Any]]:
        mover = self.aec.agent_selection
        return {a: {**self.aec.infos[a], "active_agent": mover} for a in SEATS}

    def step(self, actions: dict[str, Any]):
        if self.aec.conversation is None:
            raise ResetNeeded("call reset() before step()")
        if not self.agents:
            return {}, {}, {}, {}, {}
        mover = self.aec.agent_selection
        self.aec.step((actions or {}).get(mover))
        rewards = {a: float(self.aec.rewards[a]) for a in SEATS}
        terminations = dict(self.aec.terminations)
        truncations = dict(self.aec.truncations)
        obs, infos = self._observations(), self._infos()
        if self.aec.conversation.done:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def render(self) -> str | None:
        return self.aec.render()

    def close(self) -> None:
        self.aec.close()


def parallel_env(**kwargs: Any) -> CustomerServiceParallelEnv:
    """The Parallel env (same kwargs as ``aec.env``: ``domain``, ``tasks``, ``split``,
    ``include_no_change``, ``max_steps``, ``max_text_length``, ``on_infra_error``, ``render_mode``)."""
    return CustomerServiceParallelEnv(**kwargs)
