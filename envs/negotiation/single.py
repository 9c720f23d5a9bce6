"""``selfgym/Negotiation-v0``: one seat of Deal or No Deal, played against a pluggable partner.

The partner is a scripted player (``"greedy"``, ``"fair"``, ``"stubborn"``, ``"random"``, see
``partners``) or any ``selfgym.agent.Agent``, including an LLM agent; choose it with
``gymnasium.make(..., partner=...)`` or per episode with ``reset(options={"partner": ...})``.
The partner's turns happen inside ``reset`` and ``step``, so each ``step`` is one output of the
learner and returns when it is the learner's turn again or the game is over.

Observation, action, rewards and ``info`` are the PettingZoo env's for the learner's seat (see
``selfgym.envs.negotiation.env``), plus ``info["partner"]`` (its name).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from selfgym.envs.negotiation import contexts as ctxs
from selfgym.envs.negotiation.env import AGENTS, RENDER_MODES, NegotiationAECEnv
from selfgym.envs.negotiation.partners import make_partner

from selfgym.errors import ConfigError
from selfgym.types import Task


class NegotiationEnv(gym.Env):
    """Deal or No Deal against a partner.

    Args:
        partner: a name in ``partners.PARTNERS`` or an Agent (default ``"fair"``).
        seat: the learner's seat, 0 or 1 (who starts is drawn per episode either way).
        objective, contexts, max_messages, max_invalid, max_text_length, render_mode: as for
            the PettingZoo env.
    """

    metadata = {"render_modes": RENDER_MODES, "render_fps": 1}

    def __init__(self, partner: Any = "fair", seat: int = 0, render_mode: str | None = None, **kwargs: Any):
        if seat not in (0, 1):
            raise ConfigError(f"seat must be 0 or 1, got {seat!r}")
        self.game = NegotiationAECEnv(render_mode=render_mode, **kwargs)
        self.render_mode = render_mode
        self.seat = seat
        self.partner_spec = partner
        make_partner(partner)  # fail early on a bad name
        self.partner = None
        self.observation_space = self.game.observation_space(AGENTS[seat])
        self.action_space = self.game.action_space(AGENTS[seat])
        self._started = False

    def task_set(self, n: int | None = None, seed: int = 0) -> list[Task]:
        """Every valid context as a Task (``n=None``), or ``n`` generated ones from ``seed``."""
        return ctxs.task_set(n, seed)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        spec = options.pop("partner", self.partner_spec)
        self.game.reset(seed=int(self.np_random.integers(2**62)), options=options)
        self.partner = make_partner(spec, seed=int(self.np_random.integers(2**31)))
        self.partner.reset()
        self._started = True
        self._play_partner()
        return self._observe(), self._info()

    def step(self, action: Any):
        if not self._started:
            raise gym.error.ResetNeeded("call reset() before step()")
        me = AGENTS[self.seat]
        g = self.game
        if g.dialogue.done:
            info = self._info()
            info["action_error"] = "step() called after the episode ended"
            return self._observe(), 0.0, True, False, info
        g.step(action)
        self._play_partner()
        done = g.dialogue.done
        reward = float(g._cumulative_rewards[me]) if done else 0.0
        return self._observe(), reward, bool(g.terminations[me]), bool(g.truncations[me]), self._info()

    def _play_partner(self) -> None:
        g = self.game
        partner = AGENTS[1 - self.seat]
        while not g.dialogue.done and g.agent_selection == partner:
            action = self.partner.act(g.observe(partner), g.infos[partner])
            g.step(action)

    def _observe(self) -> dict[str, Any]:
        return self.game.observe(AGENTS[self.seat])

    def _info(self) -> dict[str, Any]:
        info = self.game._info(self.seat)
        info["partner"] = getattr(self.partner, "name", type(self.partner).__name__)
        return info

    def render(self):
        return self.game.render()

    def cheat(self) -> str:
        """An oracle output: the fair player's move for the learner's current observation."""
        return make_partner("fair").act(self._observe(), self._info())
