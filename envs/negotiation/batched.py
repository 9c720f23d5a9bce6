"""Batched self-play of scripted players: many Deal or No Deal games per call, as NumPy arrays.

``play_batch(seeds, players)`` plays one game per seed and returns a ``BatchResult`` whose arrays
(one row per game) hold the context, the starter, the number of accepted outputs, the outcome,
both proposals, scores and rewards. The outcome of every game is the one the AEC env ``env()``
reaches for the same seed with the same scripted players (``partners.GreedyPartner``,
``FairPartner``, ``StubbornPartner``), move for move; ``tests/negotiation/test_batched.py`` checks
that on thousands of seeded games against the AEC env and against ``rules.Game``.

How it avoids per-step Python work: the scripted players' decisions depend only on the context,
the turn and whether the partner has proposed (a scripted player's message always states its own
constant demand, so "the partner's last demand" is the partner's demand). Every turn of every
still-running game is therefore one set of array operations over the whole batch; the Python
loop runs once per turn number (at most ``max_messages`` times), not once per game step.
Per game, only the seeded context draw (the env's own ``random.Random`` stream, for seed
equality) is Python; ``draw_contexts`` skips even that for population play that needs fresh
games rather than the env's seeds.

Players are per game and seat: ``players`` is one name for both seats, a pair of names, or an
``(n, 2)`` array of names/codes (``POLICIES``), so a population's pairings run in one call.
``RandomPartner`` is not batched: its draws come from one generator shared across games in play
order, which only sequential play reproduces.

Limits: rule set ``"selfgym"`` (the scripted players' outputs are always valid, so no rejected
output ever occurs; a batch where one would arise raises instead of diverging silently).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from selfgym.envs.negotiation import contexts as ctxs
from selfgym.envs.negotiation import partners, rules
from selfgym.envs.negotiation.rules import Context
from selfgym.errors import ConfigError

POLICIES = ("greedy", "fair", "stubborn")
_CODE = {name: i for i, name in enumerate(POLICIES)}
# Per policy code: the smallest value of the partner's demanded complement it accepts, and the
# turn from which it proposes its own demand (stubborn: never unless it must).
_ACCEPT_AT = np.array([partners.GreedyPartner.accept_at, partners.FairPartner.accept_at, np.inf])
_PROPOSE_AFTER = np.array([partners.GreedyPartner.propose_after, partners.FairPartner.propose_after,
                           np.iinfo(np.int64).max], dtype=np.int64)

OUTCOMES = (None, rules.DEAL, rules.NO_DEAL, rules.CAPPED)  # index = outcome code (0: still running)
RUNNING, DEAL, NO_DEAL, CAPPED = 0, 1, 2, 3


@dataclass
class BatchResult:
    """One row per game. ``keep[i, s]`` is seat ``s``'s proposal (zeros if it never proposed);
    ``outcome`` codes index ``OUTCOMES`` (``deal``, ``no_deal``, ``cap``); ``steps`` counts accepted
    outputs, the AEC env's live steps; ``scores``/``rewards`` are zero unless the game is a deal."""

    counts: np.ndarray      # (n, 3) int64
    values: np.ndarray      # (n, 2, 3) int64
    starter: np.ndarray     # (n,) int64
    players: np.ndarray     # (n, 2) policy codes
    steps: np.ndarray       # (n,) int64
    outcome: np.ndarray     # (n,) int8
    proposed: np.ndarray    # (n, 2) bool
    keep: np.ndarray        # (n, 2, 3) int64
    scores: np.ndarray      # (n, 2) int64
    rewards: np.ndarray     # (n, 2) float64
    objective: str = "semi_competitive"

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def total_steps(self) -> int:
        return int(self.steps.sum())

    def outcome_name(self, i: int) -> str:
        return OUTCOMES[int(self.outcome[i])]

    def context(self, i: int) -> Context:
        return Context.of(self.counts[i], self.values[i, 0], self.values[i, 1])


def seeded_contexts(seeds: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts ``(n, 3)``, values ``(n, 2, 3)`` and starters ``(n,)`` that ``env().reset(seed=s)``
    draws for each seed (the env's generator, ``random.Random``, seeded the same way)."""
    n = len(seeds)
    counts = np.empty((n, 3), np.int64)
    values = np.empty((n, 2, 3), np.int64)
    starter = np.empty(n, np.int64)
    rng = random.Random()
    generate = ctxs.generate_context
    rows_c, rows_v, rows_s = [], [], []
    for s in seeds:
        rng.seed(int(s))
        ctx = generate(rng)
        rows_c.append(ctx.counts)
        rows_v.append(ctx.values)
        rows_s.append(rng.randrange(2))
    if n:
        counts[:] = rows_c
        values[:] = rows_v
        starter[:] = rows_s
    return counts, values, starter


def _context_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    table = ctxs.all_contexts()
    counts = np.array([c.counts for c in table], np.int64)
    values = np.array([c.values for c in table], np.int64)
    totals = counts.sum(1)
    return counts, values, totals


def draw_contexts(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` fresh contexts and starters drawn as ``contexts.generate_context`` draws them (a pool
    total by ``contexts.TOTAL_SHARES``, then uniform among valid contexts of that total), vectorised.
    The same distribution as the env's, not the env's per-seed stream."""
    counts, values, totals = _context_table()
    keys = sorted(ctxs.TOTAL_SHARES)
    shares = np.array([ctxs.TOTAL_SHARES[t] for t in keys])
    picked_total = np.asarray(keys)[rng.choice(len(keys), size=n, p=shares / shares.sum())]
    idx = np.empty(n, np.int64)
    for t in keys:
        rows = np.flatnonzero(totals == t)
        where = picked_total == t
        idx[where] = rows[rng.integers(len(rows), size=int(where.sum()))]
    return counts[idx], values[idx], rng.integers(2, size=n)


def _codes(players, n: int) -> np.ndarray:
    if isinstance(players, str):
        players = (players, players)
    arr = np.asarray(players, dtype=object)
    if arr.shape == (2,):
        arr = np.broadcast_to(arr, (n, 2))
    if arr.shape != (n, 2):
        raise ConfigError(f"players must be a name, a pair of names, or an (n, 2) array; "
                          f"got shape {arr.shape} for {n} games")
    try:
        return np.vectorize(lambda p: int(p) if not isinstance(p, str) else _CODE[p], otypes=[np.int64])(arr) \
            if arr.size else np.zeros((0, 2), np.int64)
    except KeyError as err:
        raise ConfigError(f"batched players must be among {POLICIES}, got {err.args[0]!r}") from None


_DEMANDS: dict[tuple, tuple] = {}


def _demands(counts: np.ndarray, values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Each seat's constant demand ``(n, 2, 3)``, from ``partners.greedy_keep``/``fair_keep``."""
    n = len(counts)
    out = np.empty((n, 2, 3), np.int64)
    greedy, fair = partners.greedy_keep, partners.fair_keep
    c_rows = [tuple(r) for r in counts.tolist()]
    v_rows = values.tolist()
    codes_l = codes.tolist()
    rows = []
    for c, v, pc in zip(c_rows, v_rows, codes_l, strict=True):
        pair = []
        for s in (0, 1):
            vs = tuple(v[s])
            pair.append(fair(c, vs) if pc[s] == 1 else greedy(c, vs))
        rows.append(pair)
    if n:
        out[:] = rows
    return out


def play_batch(seeds: Sequence[int] | None = None, players="fair", *, objective: str = "semi_competitive",
               max_messages: int = rules.MAX_MESSAGES, counts: np.ndarray | None = None,
               values: np.ndarray | None = None, starter: np.ndarray | None = None) -> BatchResult:
    """Play one game per seed (contexts and starters as ``env().reset(seed=...)`` draws them), or
    one per row of ``counts``/``values``/``starter`` (e.g. from ``draw_contexts``).

    ``players``: a policy name for both seats, a pair (seat 0, seat 1), or an ``(n, 2)`` array of
    names or codes (``POLICIES``). ``objective`` sets the rewards, as in the env.
    """
    objective = rules.canonical_objective(objective)
    if max_messages < 2:
        raise ConfigError(f"need max_messages >= 2, got {max_messages}")
    if seeds is not None:
        if counts is not None or values is not None or starter is not None:
            raise ConfigError("pass either seeds or counts/values/starter, not both")
        counts, values, starter = seeded_contexts(seeds)
    elif counts is None or values is None or starter is None:
        raise ConfigError("pass seeds, or counts, values and starter")
    counts = np.asarray(counts, np.int64)
    values = np.asarray(values, np.int64)
    starter = np.asarray(starter, np.int64)
    n = len(counts)
    if values.shape != (n, 2, 3) or counts.shape != (n, 3) or starter.shape != (n,):
        raise ConfigError(f"counts (n, 3), values (n, 2, 3) and starter (n,) must agree; got "
                          f"{counts.shape}, {values.shape}, {starter.shape}")
    codes = _codes(players, n)
    demand = _demands(counts, values, codes)
    accept_at = _ACCEPT_AT[codes]            # (n, 2)
    propose_after = _PROPOSE_AFTER[codes]    # (n, 2)
    # Value to each seat of the complement of the partner's demand (what accepting gives it).
    rest = counts[:, None, :] - demand[:, ::-1, :]           # rest[i, s] = counts - demand of 1-s
    rest_value = (values * rest).sum(-1)                      # (n, 2)
    accepts = rest_value >= accept_at                         # a fixed fact per game and seat

    cur = starter.copy()
    turn = np.zeros(n, np.int64)
    proposed = np.zeros((n, 2), bool)
    keep = np.zeros((n, 2, 3), np.int64)
    outcome = np.zeros(n, np.int8)
    live = np.arange(n)
    while live.size:
        s = cur[live]
        o = 1 - s
        t = turn[live]
        must = proposed[live, o]
        accept = ~must & (t > 0) & accepts[live, s]
        own = must | (~accept & (t >= propose_after[live, s]))
        propose = must | accept | own
        if np.any(propose & (t == 0)):
            raise RuntimeError("a batched player proposed on the opening move, which the rules reject; "
                               "this batch would diverge from the env")
        pl = live[propose]
        ps = s[propose]
        keep[pl, ps] = np.where(own[propose, None], demand[pl, ps], rest[pl, ps])
        proposed[pl, ps] = True
        turn[live] = t + 1
        both = pl[proposed[pl, 1 - ps]]
        if both.size:
            adds_up = (keep[both, 0] + keep[both, 1] == counts[both]).all(-1)
            outcome[both] = np.where(adds_up, DEAL, NO_DEAL)
        capped = live[(outcome[live] == RUNNING) & (turn[live] >= max_messages)]
        outcome[capped] = CAPPED
        cur[live] = o
        live = live[outcome[live] == RUNNING]
    deal = outcome == DEAL
    scores = np.where(deal[:, None], (values * keep).sum(-1), 0)
    s0, s1 = scores[:, 0].astype(np.float64), scores[:, 1].astype(np.float64)
    if objective == "semi_competitive":
        rew = np.stack([s0, s1], 1)
    elif objective == "cooperative":
        rew = np.stack([s0 + s1, s0 + s1], 1)
    else:
        rew = np.stack([s0 - s1, s1 - s0], 1)
    return BatchResult(counts, values, starter, codes, turn, outcome, proposed, keep, scores, rew, objective)


def steps_per_cpu_second(games: int = 20_000, players="fair", seeds_from: int = 0) -> tuple[int, float]:
    """(steps, CPU seconds) for one ``play_batch`` call over ``games`` seeds (the benchmark's unit)."""
    import time

    start = time.process_time()
    res = play_batch(range(seeds_from, seeds_from + games), players)
    return res.total_steps, time.process_time() - start
