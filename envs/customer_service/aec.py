"""Agent versus customer under PettingZoo AEC: ``env()`` (both seats trainable); the Parallel
version is ``selfgym.envs.customer_service.parallel.parallel_env()``.

Agents ``"agent"`` and ``"user"``; the user speaks first (after the agent's fixed greeting). On
its turn the agent calls tools (it moves again with the results) or replies (the user moves next);
either seat ends the conversation by saying ``###STOP###``, and ``max_steps`` agent actions
truncate it. Actions are strings (any string: an unreadable tool call comes back to the agent as
an error observation and ``info["action_error"]``).

Observation (a ``Dict``): ``text``, what the seat received since it last moved; ``steps``, agent
actions so far; ``to_move``, 1 when it is this seat's turn. ``info`` per seat: ``task_id``,
``family``, ``messages`` (the seat's whole chat), ``tools`` (the agent's tool schemas; none for
the user), ``difficulty``, ``seat``, ``to_move``; the user's also ``scenario`` (its private
facts); ``verdict`` and ``outcome`` at the end. ``info`` depends only on the seed and the actions
(PettingZoo's seed test compares it whole): ``info["verdict"]`` leaves out the verdict's
``timings``, which ``env.unwrapped.verdict`` (the full ``Verdict``) keeps. Both seats get the tau-bench reward at the end:
the seats cooperate to serve the request. The seed picks the task unless
``reset(options={"task": ...})`` names one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv
from pettingzoo.utils import wrappers

from selfgym.envs.customer_service import tasks as task_lists
from selfgym.envs.customer_service.dialogue import AGENT, SEATS, USER, Conversation
from selfgym.errors import ConfigError
from selfgym.spaces import normalize_text, text_space
from selfgym.types import ON_INFRA_ERROR, Task, resolve_reward

RENDER_MODES = ["human", "ansi"]


class CustomerServiceAECEnv(AECEnv):
    """Agent and customer, turn by turn (see the module docstring). Build it with ``env()``."""

    metadata = {"name": "selfgym_customer_service_v0", "render_modes": RENDER_MODES, "render_fps": 1,
                "is_parallelizable": False}

    def __init__(self, domain: str | None = "retail", tasks: Any = None, split: str | None = None,
                 include_no_change: bool = False, max_steps: int = 30, max_text_length: int = 32768,
                 on_infra_error: str = "raise", render_mode: str | None = None):
        super().__init__()
        if render_mode not in (None, *RENDER_MODES):
            raise ConfigError(f"render_mode must be None or one of {RENDER_MODES}, got {render_mode!r}")
        if on_infra_error not in ON_INFRA_ERROR:
            raise ConfigError(f"on_infra_error must be one of {ON_INFRA_ERROR}, got {on_infra_error!r}")
        if max_steps < 1:
            raise ConfigError(f"max_steps must be >= 1, got {max_steps!r}")
        self.tasks = task_lists.task_list(domain, tasks, split, include_no_change)
        self.max_steps = int(max_steps)
        self.max_text_length = int(max_text_length)
        self.on_infra_error = on_infra_error
        self.render_mode = render_mode
        self.possible_agents = list(SEATS)
        self.observation_spaces = {a: spaces.Dict({
            "text": text_space(self.max_text_length),
            "steps": spaces.Discrete(self.max_steps + 1),
            "to_move": spaces.Discrete(2),
        }) for a in SEATS}
        self.action_spaces = {a: text_space(8192) for a in SEATS}
        self.conversation: Conversation | None = None
        self.task: Task | None = None
        self.np_random = np.random.default_rng()

    def observation_space(self, agent: str):
        return self.observation_spaces[agent]

    def action_space(self, agent: str):
        return self.action_spaces[agent]

    def task_set(self, n: int | None = None, seed: int = 0) -> list[Task]:
        """The env's task list (``n=None``), or ``n`` of its tasks in a seeded order."""
        return task_lists.sample(self.tasks, n, seed)

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        if seed is not None or self.conversation is None:
            self.np_random = np.random.default_rng(seed)
        options = options or {}
        if options.get("task") is not None:
            self.task = task_lists.check_task(Task.coerce(options["task"]))
        else:
            self.task = task_lists.pick(self.tasks, self.np_random)
        self.conversation = Conversation(self.task, self.max_steps)
        self.agents = list(SEATS)
        self.rewards = {a: 0.0 for a in SEATS}
        self._cumulative_rewards = {a: 0.0 for a in SEATS}
        self.terminations = {a: False for a in SEATS}
        self.truncations = {a: False for a in SEATS}
        self.infos = {a: self._info(a) for a in SEATS}
        self.agent_selection = self.conversation.current

    def observe(self, agent: str) -> dict[str, Any]:
        conv = self.conversation
        return {"text": normalize_text(conv.pending[agent], self.max_text_length), "steps": conv.steps,
                "to_move": int(conv.current == agent and not conv.done)}

    def step(self, action: Any) -> None:
        seat = self.agent_selection
        if self.terminations[seat] or self.truncations[seat]:
            self._was_dead_step(action)
            return
        conv = self.conversation
        self._cumulative_rewards[seat] = 0.0
        conv.play(_as_text(action))
        self.rewards = {a: 0.0 for a in SEATS}
        if conv.done:
            reward, _ = resolve_reward(conv.verdict, self.on_infra_error)
            self.rewards = {a: reward for a in SEATS}
            self.terminations = {a: not conv.truncated for a in SEATS}
            self.truncations = {a: conv.truncated for a in SEATS}
        self.infos = {a: self._info(a) for a in SEATS}
        self.agent_selection = conv.current
        self._accumulate_rewards()
        if self.render_mode == "human":
            self.render()

    def _info(self, seat: str) -> dict[str, Any]:
        conv = self.conversation
        info: dict[str, Any] = {
            "task_id": self.task.id, "family": "customer_service", "messages": conv.chats[seat],
            "tools": conv.tools.schemas() if seat == AGENT else [], "difficulty": dict(self.task.difficulty),
            "seat": seat, "to_move": conv.current == seat and not conv.done,
        }
        if seat == USER:
            info["scenario"] = dict(self.task.payload["scenario"])
        if conv.last_error[seat]:
            info["action_error"] = conv.last_error[seat]
        if conv.done:
            info["outcome"] = conv.outcome
            info["verdict"] = deterministic_verdict(conv.verdict)
            info["reward_valid"] = not conv.verdict.is_infra_error
        return info

    @property
    def verdict(self):
        """The finished conversation's full ``Verdict`` (timings included), else None."""
        conv = self.conversation
        return conv.verdict if conv is not None and conv.done else None

    def render(self) -> str | None:
        text = self.conversation.transcript() if self.conversation else ""
        if self.render_mode == "human":
            print(text)
            return None
        return text if self.render_mode == "ansi" else None

    def close(self) -> None:
        pass


def deterministic_verdict(verdict: Any) -> dict[str, Any]:
    """``verdict.to_dict()`` without ``timings``: what ``info`` may carry.

    The rule: a PettingZoo env's ``info`` is a function of the seed and the actions alone
    (PettingZoo's seed tests compare it whole), so measured durations stay out of it. The full
    verdict, timings included, is ``env.unwrapped.verdict``.
    """
    d = verdict.to_dict()
    d.pop("timings", None)
    return d


def _as_text(action: Any) -> str:
    if isinstance(action, str):
        return action
    if isinstance(action, (bytes, bytearray)):
        return bytes(action).decode("utf-8", errors="replace")
    return "" if action is None else str(action)


def raw_env(**kwargs: Any) -> CustomerServiceAECEnv:
    """The AEC env without PettingZoo's order-enforcing wrapper."""
    return CustomerServiceAECEnv(**kwargs)


def env(**kwargs: Any) -> AECEnv:
    """The AEC env, order-enforced. Kwargs: ``domain`` ("retail", "airline" or None for both),
    ``tasks``, ``split``, ``include_no_change``, ``max_steps``, ``max_text_length``,
    ``on_infra_error``, ``render_mode``."""
    return wrappers.OrderEnforcingWrapper(raw_env(**kwargs))
