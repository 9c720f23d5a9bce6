"""Deal or No Deal under PettingZoo: the AEC env ``env()`` and the Parallel env ``parallel_env()``.

Agents are ``"player_0"`` and ``"player_1"``; the seed draws the context (unless
``reset(options={"task": ...})`` names one) and who starts (unless ``options={"starter": 0|1}``).
Actions are strings (a ``Text`` space); any string is accepted and an invalid one comes back to
the same player as an error (``info["action_error"]``), never an exception.

Observation (a ``Dict``):

- ``text``: what the player received since its last accepted output (briefing, partner
  messages, the proposal notice), then the error if its last output was rejected;
- ``counts`` / ``values``: item counts and the player's own values (books, hats, balls);
- ``turn``: accepted outputs so far; ``to_move``: 1 when it is this player's turn;
  ``must_propose``: 1 when the partner has proposed; ``invalid_in_row``: consecutive rejected outputs.

``info`` per player: ``task_id``, ``family``, ``messages`` (the player's whole chat, OpenAI
format, rejected outputs and their errors included), ``tools``, ``difficulty``, ``seat``, ``to_move``;
``action_error`` after a rejected output; ``metrics`` and ``verdict`` once the game is over.
``rules`` (``info["rules"]``) names the rule set, and ``info["prompt_template"]`` the LLM prompt
template that reads it (``selfgym.envs.negotiation.llm``). Rewards come only at the end (see ``rules``);
the 50-message cap is a truncation, every other end a termination.

``rules="lm-selfplay"`` plays lm-selfplay's exact rules, texts and context sampling: contexts
come from an original-format file (``contexts=<path>``, else the path in the environment
variable ``SELFGYM_NEGOTIATION_CONTEXTS``), and, as that code draws ``randint(0, 4085)`` over
the 4,086 pairs of ``selfplay.txt``, a file's last pair is never drawn. ``contexts="generated"``
uses selfgym's generator instead.

AEC: ``agent_selection`` is the player to move (the same one again after a rejected output).
Parallel: every step takes a dict of actions, applies only the mover's (the other's is
ignored; ``info["active_agent"]`` names the mover), like PettingZoo's turn-based conversion.
"""

from __future__ import annotations

import functools
import os
import random
import re
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from pettingzoo import AECEnv, ParallelEnv
from selfgym.envs.negotiation import contexts as ctxs
from selfgym.envs.negotiation import metrics, rules
from selfgym.envs.negotiation import rules as rules_mod
from selfgym.envs.negotiation.dialogue import Dialogue
from selfgym.envs.negotiation.rules import Context

from selfgym.errors import ConfigError
from selfgym.spaces import normalize_text, text_space
from selfgym.types import Task

AGENTS = ("player_0", "player_1")
RENDER_MODES = ["human", "ansi"]


_OUTSIDE_CHARSET = re.compile(r"[^\t\n\x20-\x7e]")


def fit_text(text: str, max_length: int) -> str:
    """``normalize_text`` with a fast path for text already inside the space (the common case)."""
    if len(text) <= max_length and not _OUTSIDE_CHARSET.search(text):
        return text
    return normalize_text(text, max_length)


CONTEXTS_ENV = "SELFGYM_NEGOTIATION_CONTEXTS"
# The LLM prompt template of each rule set (``selfgym.envs.negotiation.llm``), named in every info.
_TEMPLATES = {"selfgym": "selfgym.envs.negotiation.llm:LenientTemplate",
              "lm-selfplay": "selfgym.envs.negotiation.llm:ExactTemplate"}


def _context_source(contexts: Any, rules_: str = "selfgym") -> list[Context] | None:
    if contexts is None and rules_ == "lm-selfplay":
        contexts = os.environ.get(CONTEXTS_ENV)
        if not contexts:
            raise ConfigError(
                "rules='lm-selfplay' samples contexts from the original selfplay.txt: pass contexts=<path to "
                f"selfplay.txt> or set {CONTEXTS_ENV}, or pass contexts='generated' for selfgym's generator")
    if contexts is None or contexts == "generated":
        return None
    if isinstance(contexts, (str, os.PathLike)):
        return ctxs.load_contexts(contexts)
    out = [c if isinstance(c, Context) else ctxs.from_task(c) for c in contexts]
    if not out:
        raise ConfigError("contexts must not be empty")
    return out


class _NegotiationBase:
    """What the AEC and Parallel envs share: configuration, spaces, reset, observations, infos."""

    metadata = {"name": "selfgym_negotiation_v0", "render_modes": RENDER_MODES, "render_fps": 1}

    def __init__(self, objective: str = "semi_competitive", contexts: Any = None, max_messages: int = rules.MAX_MESSAGES,
                 max_invalid: int = rules.MAX_INVALID, max_text_length: int = 8192, render_mode: str | None = None,
                 rules: str = "selfgym"):
        if render_mode not in (None, *RENDER_MODES):
            raise ConfigError(f"render_mode must be None or one of {RENDER_MODES}, got {render_mode!r}")
        if max_messages < 2 or max_invalid < 1:
            raise ConfigError(f"need max_messages >= 2 and max_invalid >= 1, got {max_messages}, {max_invalid}")
        self.objective = rules_mod.canonical_objective(objective)
        self.rules = rules_mod.check_rules(rules)
        self.contexts = _context_source(contexts, self.rules)
        # lm-selfplay never draws the last pair of its file (numpy's randint(0, 4085) over 4,086 pairs).
        from_file = isinstance(contexts, (str, os.PathLike)) or (contexts is None and self.contexts is not None)
        n = len(self.contexts) if self.contexts else 0
        self._drawn = max(1, n - 1) if self.rules == "lm-selfplay" and from_file else n
        self.max_messages = int(max_messages)
        self.max_invalid = int(max_invalid)
        self.max_text_length = int(max_text_length)
        self.render_mode = render_mode
        self.possible_agents = list(AGENTS)
        space = spaces.Dict({
            "text": text_space(self.max_text_length),
            "counts": spaces.Box(0, rules_mod.MAX_COUNT, (3,), np.int64),
            "values": spaces.Box(0, rules_mod.MAX_VALUE, (3,), np.int64),
            "turn": spaces.Discrete(self.max_messages + 1),
            "to_move": spaces.Discrete(2),
            "must_propose": spaces.Discrete(2),
            "invalid_in_row": spaces.Discrete(self.max_invalid + 1),
        })
        self.observation_spaces = {a: space if i == 0 else _copy_space(space) for i, a in enumerate(AGENTS)}
        self.action_spaces = {a: text_space(self.max_text_length) for a in AGENTS}
        self.dialogue: Dialogue | None = None
        self.task: Task | None = None
        self.rng = random.Random()

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    # ---------------------------------------------------------------- task set
    def task_set(self, n: int | None = None, seed: int = 0) -> list[Task]:
        """Every valid context as a Task (``n=None``), or ``n`` generated ones from ``seed``."""
        return ctxs.task_set(n, seed)

    # ---------------------------------------------------------------- episode setup
    def _start(self, seed: int | None, options: dict[str, Any] | None) -> None:
        # A Mersenne Twister (random.Random) seeds in about a microsecond, and its streams are
        # the same on every platform and Python version.
        if seed is not None:
            self.rng.seed(int(seed))
        elif self.dialogue is None:
            self.rng.seed()
        options = options or {}
        if options.get("task") is not None:
            task = Task.coerce(options["task"])
            ctx = ctxs.from_task(task)
        else:
            if self.contexts is None:
                ctx = ctxs.generate_context(self.rng)
            else:
                ctx = self.contexts[self.rng.randrange(self._drawn)]
            task = ctxs.cached_task(ctx)
        starter = self.rng.randrange(2)
        if options.get("starter") is not None:
            starter = int(options["starter"])
            if starter not in (0, 1):
                raise ConfigError(f"options['starter'] must be 0 or 1, got {options['starter']!r}")
        objective = rules.canonical_objective(options.get("objective", self.objective))
        self.task = task
        self.dialogue = Dialogue(ctx, objective, starter, self.max_messages, self.max_invalid, self.rules)
        self._arrays = _arrays(ctx)

    def _observation(self, seat: int) -> dict[str, Any]:
        d = self.dialogue
        g = d.game
        counts, values = self._arrays[seat]
        to_move = int(g.current == seat and g.outcome is None)
        return {
            "text": fit_text(d.pending(seat), self.max_text_length),
            "counts": counts.copy(),
            "values": values.copy(),
            "turn": len(g.messages),
            "to_move": to_move,
            "must_propose": int(to_move and g.proposals[1 - seat] is not None),
            "invalid_in_row": g.invalid_in_row if g.current == seat else 0,
        }

    def _info(self, seat: int, metrics_: dict[str, Any] | None = None) -> dict[str, Any]:
        """A fresh info dict for ``seat`` (message dicts are copies; nothing is shared with the env)."""
        d = self.dialogue
        info = {
            "task_id": self.task.id,
            "family": "negotiation",
            "rules": self.rules,
            "prompt_template": _TEMPLATES[self.rules],
            "messages": [m.copy() for m in d.chats[seat]],
            "tools": [],
            "difficulty": dict(self.task.difficulty),
            "seat": seat,
            "to_move": d.game.current == seat and not d.done,
        }
        if d.last_error[seat] is not None:
            info["action_error"] = d.last_error[seat]
        if d.done:
            m = metrics_ if metrics_ is not None else metrics.game_metrics(d)
            info["metrics"] = {k: (list(v) if isinstance(v, list) else v) for k, v in m.items()}
            info["verdict"] = metrics.verdict_dict(m, seat)
        return info

    def _infos_both(self) -> tuple[dict[str, Any], dict[str, Any]]:
        m = metrics.game_metrics(self.dialogue) if self.dialogue.done else None
        return self._info(0, m), self._info(1, m)

    def cheat(self, agent: str | None = None) -> str:
        """An oracle output for ``agent`` (default: the player to move): the fair partner's move."""
        from selfgym.envs.negotiation.partners import FairPartner

        seat = self.dialogue.current if agent is None else AGENTS.index(agent)
        return FairPartner().act(self._observation(seat), self._info(seat))

    def _render(self) -> str | None:
        if self.dialogue is None:
            return None if self.render_mode == "human" else ""
        text = self.dialogue.transcript()
        if self.render_mode == "human":
            print(text)
            return None
        return text if self.render_mode == "ansi" else None


@functools.lru_cache(maxsize=8192)
def _arrays(ctx: Context) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Per seat: counts and own values as arrays (observations get copies)."""
    return tuple((np.array(ctx.counts, np.int64), np.array(ctx.values[s], np.int64)) for s in (0, 1))


def _copy_space(space: spaces.Dict) -> spaces.Dict:
    import copy

    return copy.deepcopy(space)


def _as_text(action: Any) -> str:
    if isinstance(action, str):
        return action
    if isinstance(action, (bytes, bytearray)):
        return bytes(action).decode("utf-8", errors="replace")
    return "" if action is None else str(action)


class NegotiationAECEnv(_NegotiationBase, AECEnv):
    """Turn-based Deal or No Deal (see the module docstring). Build it with ``env()``."""

    metadata = {**_NegotiationBase.metadata, "is_parallelizable": False}

    def __init__(self, **kwargs: Any):
        _NegotiationBase.__init__(self, **kwargs)
        AECEnv.__init__(self)

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        self._start(seed, options)
        self.agents = list(AGENTS)
        self.rewards = {a: 0.0 for a in AGENTS}
        self._cumulative_rewards = {a: 0.0 for a in AGENTS}
        self.terminations = {a: False for a in AGENTS}
        self.truncations = {a: False for a in AGENTS}
        i0, i1 = self._infos_both()
        self.infos = {AGENTS[0]: i0, AGENTS[1]: i1}
        self.agent_selection = AGENTS[self.dialogue.current]

    def observe(self, agent: str) -> dict[str, Any]:
        if self.dialogue is None:
            raise ResetNeeded("call reset() before observe()")
        return self._observation(0 if agent == "player_0" else AGENTS.index(agent))

    def last(self, observe: bool = True):
        if self.dialogue is None:
            raise ResetNeeded("call reset() before last()")
        return AECEnv.last(self, observe)

    def step(self, action: Any) -> None:
        if self.dialogue is None:
            raise ResetNeeded("call reset() before step()")
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        d = self.dialogue
        self._cumulative_rewards[agent] = 0.0
        d.play(_as_text(action))
        if d.done:
            r = d.game.rewards()
            self.rewards = {AGENTS[0]: r[0], AGENTS[1]: r[1]}
            capped = d.game.outcome == rules.CAPPED
            self.terminations = {a: not capped for a in AGENTS}
            self.truncations = {a: capped for a in AGENTS}
        else:
            self.rewards = {AGENTS[0]: 0.0, AGENTS[1]: 0.0}
        i0, i1 = self._infos_both()
        self.infos = {AGENTS[0]: i0, AGENTS[1]: i1}
        self.agent_selection = AGENTS[d.current]
        self._accumulate_rewards()
        if self.render_mode == "human":
            self._render()

    def render(self) -> str | None:
        return self._render()

    def close(self) -> None:
        pass


class NegotiationParallelEnv(_NegotiationBase, ParallelEnv):
    """Deal or No Deal as a Parallel env: only the mover's action is applied each step."""

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        self._start(seed, options)
        self.agents = list(AGENTS)
        return self._observations(), self._infos()

    def _observations(self) -> dict[str, dict[str, Any]]:
        return {a: self._observation(i) for i, a in enumerate(AGENTS)}

    def _infos(self) -> dict[str, dict[str, Any]]:
        mover = AGENTS[self.dialogue.current]
        i0, i1 = self._infos_both()
        infos = {AGENTS[0]: i0, AGENTS[1]: i1}
        for info in infos.values():
            info["active_agent"] = mover
        return infos

    def step(self, actions: dict[str, Any]):
        if self.dialogue is None:
            raise ResetNeeded("call reset() before step()")
        if not self.agents:
            return {}, {}, {}, {}, {}
        d = self.dialogue
        mover = AGENTS[d.current]
        d.play(_as_text(actions.get(mover)))
        r = d.game.rewards() if d.done else (0.0, 0.0)
        capped = d.game.outcome == rules.CAPPED
        obs, infos = self._observations(), self._infos()
        rewards = {AGENTS[0]: r[0], AGENTS[1]: r[1]}
        terminations = {a: d.done and not capped for a in AGENTS}
        truncations = {a: capped for a in AGENTS}
        if d.done:
            self.agents = []
        if self.render_mode == "human":
            self._render()
        return obs, rewards, terminations, truncations, infos

    def render(self) -> str | None:
        return self._render()

    def close(self) -> None:
        pass


def raw_env(**kwargs: Any) -> NegotiationAECEnv:
    """The AEC env (the same as ``env``; the name PettingZoo's classic envs use)."""
    return NegotiationAECEnv(**kwargs)


def env(**kwargs: Any) -> NegotiationAECEnv:
    """The AEC env. It checks call order itself (``step``/``observe``/``last`` before ``reset``
    raise ``gymnasium.error.ResetNeeded``), so it needs no order-enforcing wrapper and its
    attributes are reached without one's indirection.

    Kwargs: ``objective`` (``semi_competitive`` | ``cooperative`` | ``competitive``),
    ``contexts`` (None: the generator; a path to an original-format file; or a list of
    Contexts/Tasks), ``max_messages`` (50), ``max_invalid`` (5), ``max_text_length``, ``render_mode``,
    ``rules`` (``"selfgym"`` or ``"lm-selfplay"``, see the module docstring).
    """
    return NegotiationAECEnv(**kwargs)


def parallel_env(**kwargs: Any) -> NegotiationParallelEnv:
    """The Parallel env (same kwargs as ``env``)."""
    return NegotiationParallelEnv(**kwargs)
