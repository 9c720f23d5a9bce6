"""Scripted negotiators: fixed partners for the single-agent view, baselines for self-play runs,
and the oracle players the tests and benchmarks use.

All of them are ``selfgym.agent.Agent`` objects that read only the observation (counts, own
values, turn, ``must_propose`` and the received text). They state what they want as
``[message] I want (x books, y hats, z balls).`` and accept a partner's stated demand by proposing
its complement, so two scripted players reach deals without any model.

- ``greedy``: wants every item it values; accepts only a split that gives it all of that;
  proposes its demand after one message.
- ``fair``: wants the split closest to half the pool's value (5 points); accepts any split worth
  at least 5 to it; proposes after two messages.
- ``stubborn``: wants what ``greedy`` wants, never accepts and never proposes unless it must.
- ``random``: random valid outputs (seeded): messages, then a random proposal with probability 0.3.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import numpy as np
from selfgym.envs.negotiation import prompts, rules

from selfgym.agent import Agent
from selfgym.errors import ConfigError

DEMAND = re.compile(r"I want \((\d+) books?, (\d+) hats?, (\d+) balls?\)")


def demand_message(keep) -> str:
    """The message stating a demand, in the form scripted partners parse."""
    return f"[message] I want ({int(keep[0])} books, {int(keep[1])} hats, {int(keep[2])} balls)."


def parse_demand(text: str) -> tuple[int, int, int] | None:
    """The last demand stated in ``text`` (``I want (x books, y hats, z balls)``), or None."""
    found = DEMAND.findall(text)
    return tuple(int(x) for x in found[-1]) if found else None


@functools.lru_cache(maxsize=4096)
def greedy_keep(counts: tuple, values: tuple) -> tuple[int, int, int]:
    """Every item the player values, none it does not."""
    return tuple(n if v > 0 else 0 for n, v in zip(counts, values, strict=False))


@functools.lru_cache(maxsize=4096)
def fair_keep(counts: tuple, values: tuple) -> tuple[int, int, int]:
    """The split whose value to the player is closest to half the pool (fewest items on ties)."""
    half = rules.TOTAL_VALUE / 2
    return min(rules.allocations(counts), key=lambda k: (abs(rules.score(values, k) - half), sum(k), k))


def _ints(x) -> tuple[int, ...]:
    return tuple(x.tolist()) if hasattr(x, "tolist") else tuple(int(v) for v in x)


class ScriptedNegotiator(Agent):
    """Base of the rule-based players (see the module docstring)."""

    name = "scripted"
    accept_at: float = float("inf")  # accept a partner's demand whose complement is worth this much
    propose_after: int | None = None  # propose own demand once this many outputs were exchanged

    def demand(self, counts: tuple, values: tuple) -> tuple[int, int, int]:
        raise NotImplementedError

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        counts, values = _ints(observation["counts"]), _ints(observation["values"])
        mine = self.demand(counts, values)
        if observation["must_propose"]:
            return prompts.format_proposal(mine)
        turn = int(observation["turn"])
        theirs = parse_demand(observation["text"]) if turn else None
        if theirs is not None and all(t <= n for t, n in zip(theirs, counts, strict=False)):
            rest = tuple(n - t for n, t in zip(counts, theirs, strict=False))
            if rules.score(values, rest) >= self.accept_at:
                return prompts.format_proposal(rest)
        if self.propose_after is not None and turn >= self.propose_after:
            return prompts.format_proposal(mine)
        return demand_message(mine)


class GreedyPartner(ScriptedNegotiator):
    name = "greedy"
    accept_at = rules.TOTAL_VALUE
    propose_after = 2

    def demand(self, counts, values):
        return greedy_keep(counts, values)


class FairPartner(ScriptedNegotiator):
    name = "fair"
    accept_at = rules.TOTAL_VALUE / 2
    propose_after = 4

    def demand(self, counts, values):
        return fair_keep(counts, values)


class StubbornPartner(ScriptedNegotiator):
    name = "stubborn"

    def demand(self, counts, values):
        return greedy_keep(counts, values)


class RandomPartner(Agent):
    """Random valid outputs from a seeded generator."""

    name = "random"

    def __init__(self, seed: int | None = None, propose_prob: float = 0.3):
        self.rng = np.random.default_rng(seed)
        self.propose_prob = propose_prob

    def _split(self, counts) -> tuple[int, ...]:
        return tuple(int(self.rng.integers(n + 1)) for n in counts)

    def act(self, observation: dict[str, Any], info: dict[str, Any]) -> str:
        counts = [int(x) for x in observation["counts"]]
        if observation["must_propose"]:
            return prompts.format_proposal(self._split(counts))
        if int(observation["turn"]) > 0 and self.rng.random() < self.propose_prob:
            return prompts.format_proposal(self._split(counts))
        return demand_message(self._split(counts))


PARTNERS = {"greedy": GreedyPartner, "fair": FairPartner, "stubborn": StubbornPartner, "random": RandomPartner}


def make_partner(spec: Any, seed: int | None = None) -> Agent:
    """A partner from a name in ``PARTNERS`` or an Agent (returned as is)."""
    if isinstance(spec, Agent):
        return spec
    if isinstance(spec, str) and spec in PARTNERS:
        cls = PARTNERS[spec]
        return cls(seed=seed) if cls is RandomPartner else cls()
    if hasattr(spec, "act") and callable(spec.act):
        return spec
    raise ConfigError(f"partner must be one of {sorted(PARTNERS)} or an Agent, got {spec!r}")
