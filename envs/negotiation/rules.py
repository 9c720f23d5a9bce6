"""Deal or No Deal: the game's rules as plain Python that the envs, runner and tests share.

A *context* is the item counts (books, hats, balls) and each player's private values. Players
alternate; each turn is one output::

    [message] <text>                      talk to the partner
    [propose] (x books, y hats, z balls)  the items the speaker keeps

``Game.play(seat, text)`` validates an output and applies it. Invalid outputs (see
``parse_output``) go back to the same player as an error to retry; the ``max_invalid``-th invalid
output in a row aborts the game. A proposal cannot open the game; once one player proposes the
other sees ``prompts.PROPOSAL_NOTICE`` (never the proposal itself) and must propose; the second
proposal ends the game. The two proposals make a deal only when they add up exactly to the item
counts. At most ``max_messages`` accepted outputs are exchanged.

**Two rule sets** (``rules=``): ``"selfgym"`` (the default, described above) and
``"lm-selfplay"``, the exact rules of the lm-selfplay code (Liao, Tomlin and Klein, 2024):

- an output is first cut at ``[END]`` (else at ``[end]``) and stripped; a proposal keeps only its
  first line (``postprocess_lm_selfplay``);
- ``[message]``/``[propose]`` are matched case-sensitively, also in proposals (``1 Books`` is
  not a proposal); a repeated tag is an error only in a message, and only from the eleventh
  character on (``[message][message] hi`` passes, as there);
- a proposal is checked on the text after its last ``[propose]``, and its three counts are the
  first three numbers of the whole output;
- an abort is an accepted ``[ABORT]`` output of the aborting player, so it counts towards the
  dialogue's length and appears in both players' transcripts.

Scores: ``s_i = values_i . keep_i`` on a deal. Rewards by objective: ``semi_competitive`` gives
``s_i``, ``cooperative`` gives ``s_0 + s_1`` to both, ``competitive`` gives ``s_i - s_j``. No deal,
an abort or the message cap gives 0 to both under every objective.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from selfgym.envs.negotiation import prompts

ITEMS = ("book", "hat", "ball")
OBJECTIVES = ("semi_competitive", "cooperative", "competitive")
OBJECTIVE_ALIASES = {"self": "semi_competitive", "semi": "semi_competitive", "coop": "cooperative",
                     "comp": "competitive"}
MAX_MESSAGES = 50
MAX_INVALID = 5
TOTAL_VALUE = 10
MIN_COUNT, MAX_COUNT = 1, 4
MIN_TOTAL, MAX_TOTAL = 5, 7
MAX_VALUE = 10

RULES = ("selfgym", "lm-selfplay")
END_TOKENS = ("[END]", "[end]")
ABORT_TOKEN = "[ABORT]"

MESSAGE, PROPOSE, INVALID = "message", "propose", "invalid"
DEAL, NO_DEAL, ABORTED, CAPPED = "deal", "no_deal", "aborted", "cap"

# Error reasons (the text a player reads, and what tests match).
ERR_FORMAT = "an output must start with [message] or [propose]."
ERR_TWO_MOVES = "send one output per turn: [message] or [propose] may appear only once, at the start."
ERR_MUST_PROPOSE = "your partner has proposed, so you must answer with [propose] (x books, y hats, z balls)."
ERR_OPENING_PROPOSAL = "a proposal cannot be the first move; discuss the split with your partner first."
ERR_ORDER = "a proposal must name books, hats and balls, in that order."
ERR_THREE_NUMBERS = "a proposal must contain exactly three numbers: books, hats, balls."
ERR_ABOVE_TOTAL = "a proposal cannot keep more items of a kind than the pool holds."

_NUMBER = re.compile(r"\d+")


def check_rules(name: str) -> str:
    """``name`` if it is a rule set in ``RULES``, else a ConfigError that lists them."""
    if name not in RULES:
        from selfgym.errors import ConfigError

        raise ConfigError(f"rules must be one of {RULES}, got {name!r}")
    return name


def canonical_objective(name: str) -> str:
    """Map an objective name or alias (``self``, ``coop``, ``comp``) to its canonical name."""
    name = OBJECTIVE_ALIASES.get(name, name)
    if name not in OBJECTIVES:
        from selfgym.errors import ConfigError

        raise ConfigError(f"objective must be one of {OBJECTIVES} (or {sorted(OBJECTIVE_ALIASES)}), got {name!r}")
    return name


@dataclass(frozen=True)
class Context:
    """One game's setup: item counts and both players' private values (books, hats, balls)."""

    counts: tuple[int, int, int]
    values: tuple[tuple[int, int, int], tuple[int, int, int]]

    @classmethod
    def of(cls, counts: Sequence[int], values_a: Sequence[int], values_b: Sequence[int]) -> Context:
        return cls(tuple(int(x) for x in counts), (tuple(int(x) for x in values_a), tuple(int(x) for x in values_b)))


def constraint_violations(ctx: Context) -> list[str]:
    """Every Deal-or-No-Deal constraint ``ctx`` breaks (empty when it is a valid context)."""
    bad = []
    c = ctx.counts
    if len(c) != 3 or not all(MIN_COUNT <= n <= MAX_COUNT for n in c):
        bad.append(f"counts {c} must be three numbers in {MIN_COUNT}..{MAX_COUNT}")
    if not MIN_TOTAL <= sum(c) <= MAX_TOTAL:
        bad.append(f"total items {sum(c)} must be in {MIN_TOTAL}..{MAX_TOTAL}")
    for seat, v in enumerate(ctx.values):
        if len(v) != 3 or not all(0 <= x <= MAX_VALUE for x in v):
            bad.append(f"player {seat} values {v} must be three integers in 0..{MAX_VALUE}")
        elif sum(n * x for n, x in zip(c, v, strict=False)) != TOTAL_VALUE:
            bad.append(f"player {seat} values the pool at {sum(n * x for n, x in zip(c, v, strict=False))}, not {TOTAL_VALUE}")
    a, b = ctx.values
    if not all(x > 0 or y > 0 for x, y in zip(a, b, strict=False)):
        bad.append("every item type must be worth something to at least one player")
    if not any(x > 0 and y > 0 for x, y in zip(a, b, strict=False)):
        bad.append("at least one item type must be worth something to both players")
    return bad


def score(values: Sequence[int], keep: Sequence[int]) -> int:
    """The value of ``keep`` under ``values``."""
    return int(values[0] * keep[0] + values[1] * keep[1] + values[2] * keep[2])


def rewards(objective: str, scores: Sequence[int] | None) -> tuple[float, float]:
    """Both players' rewards under ``objective``; ``scores=None`` (no deal) gives zeros."""
    if scores is None:
        return 0.0, 0.0
    s0, s1 = float(scores[0]), float(scores[1])
    if objective == "semi_competitive":
        return s0, s1
    if objective == "cooperative":
        return s0 + s1, s0 + s1
    if objective == "competitive":
        return s0 - s1, s1 - s0
    raise ValueError(f"unknown objective {objective!r}")


def allocations(counts: Sequence[int]):
    """Every ``keep`` vector for player 0 (player 1 keeps ``counts - keep``)."""
    return itertools.product(*(range(n + 1) for n in counts))


@functools.lru_cache(maxsize=8192)
def split_values(ctx: Context) -> tuple[tuple[tuple[int, int, int], int, int], ...]:
    """``(keep0, value to player 0, value to player 1)`` for every split of the pool."""
    a, b = ctx.values
    c0, c1, c2 = ctx.counts
    return tuple(((k0, k1, k2), a[0] * k0 + a[1] * k1 + a[2] * k2, b[0] * (c0 - k0) + b[1] * (c1 - k1) + b[2] * (c2 - k2))
                 for k0 in range(c0 + 1) for k1 in range(c1 + 1) for k2 in range(c2 + 1))


@functools.lru_cache(maxsize=8192)
def pareto_frontier(ctx: Context) -> frozenset[tuple[int, int, int]]:
    """Player 0's ``keep`` vectors whose splits no other split Pareto-dominates.

    A split (u, v) is dominated when another has u' >= u and v' >= v with one strictly
    greater. Sweeping values of u from high to low, a split survives when its v beats every v
    seen at a higher u and is the highest v at its own u.
    """
    by_u: dict[int, list[tuple[tuple[int, int, int], int]]] = {}
    for k, u, v in split_values(ctx):
        by_u.setdefault(u, []).append((k, v))
    front, best_above = [], -1
    for u in sorted(by_u, reverse=True):
        group = by_u[u]
        top = max(v for _, v in group)
        if top > best_above:
            front.extend(k for k, v in group if v == top)
        best_above = max(best_above, top)
    return frozenset(front)


def is_pareto_optimal(ctx: Context, keep0: Sequence[int]) -> bool:
    """True when the split giving player 0 ``keep0`` cannot be improved for one without the other losing."""
    a, b = ctx.values
    u = score(a, keep0)
    v = score(b, [n - k for n, k in zip(ctx.counts, keep0, strict=False)])
    return not any(u2 >= u and v2 >= v and (u2 > u or v2 > v) for _, u2, v2 in split_values(ctx))


@functools.lru_cache(maxsize=8192)
def objective_points(ctx: Context, objective: str) -> frozenset[tuple[float, float]]:
    """Both players' rewards under ``objective`` for every split of the pool."""
    return frozenset(rewards(objective, (u, v)) for _, u, v in split_values(ctx))


def is_pareto_optimal_under(ctx: Context, objective: str, reward0: float, reward1: float) -> bool:
    """lm-selfplay's Pareto check: no split gives both players at least these rewards under
    ``objective`` and one of them more. It applies to any game, a deal or not (no deal is
    ``(0, 0)``); under the competitive objective (zero-sum) every outcome passes."""
    objective = canonical_objective(objective)
    return not any(a >= reward0 and b >= reward1 and (a > reward0 or b > reward1)
                   for a, b in objective_points(ctx, objective))


@dataclass(frozen=True)
class Parsed:
    """A parsed output: its kind (message/propose/invalid), content, proposal and error reason."""

    kind: str
    content: str = ""
    proposal: tuple[int, int, int] | None = None
    error: str | None = None


def parse_output(text: str, counts: Sequence[int], *, must_propose: bool, first_move: bool) -> Parsed:
    """Validate one output against the rules (see the module docstring); never raises."""
    s = text.strip()
    if s.startswith("[message]"):
        body = s[9:]
        if "[message]" in body or "[propose]" in body:
            return Parsed(INVALID, error=ERR_TWO_MOVES)
        if must_propose:
            return Parsed(INVALID, error=ERR_MUST_PROPOSE)
        return Parsed(MESSAGE, content=s)
    if s.startswith("[propose]"):
        if first_move:
            return Parsed(INVALID, error=ERR_OPENING_PROPOSAL)
        body = s[9:]
        if "[message]" in body or "[propose]" in body:
            return Parsed(INVALID, error=ERR_TWO_MOVES)
        low = body.lower()
        if not -1 < low.find("book") < low.find("hat") < low.find("ball"):
            return Parsed(INVALID, error=ERR_ORDER)
        numbers = _NUMBER.findall(body)
        if len(numbers) != 3:
            return Parsed(INVALID, error=ERR_THREE_NUMBERS)
        keep = (int(numbers[0]), int(numbers[1]), int(numbers[2]))
        if any(k > n for k, n in zip(keep, counts, strict=False)):
            return Parsed(INVALID, error=ERR_ABOVE_TOTAL)
        return Parsed(PROPOSE, content=s, proposal=keep)
    return Parsed(INVALID, error=ERR_FORMAT)


def postprocess_lm_selfplay(raw: str) -> str:
    """lm-selfplay's post-processing of a model output: strip, cut at the first ``[END]`` (or, if
    there is none, at the first ``[end]``) and strip again; a proposal keeps its first line only."""
    text = raw.strip()
    for end in END_TOKENS:
        if end in text:
            text = text.split(end)[0].strip()
            break
    if text.startswith("[propose]"):
        text = text.split("\n")[0]
    return text


def parse_output_lm_selfplay(raw: str, counts: Sequence[int], *, must_propose: bool, first_move: bool) -> Parsed:
    """Validate one raw output under lm-selfplay's rules (see the module docstring); never raises.

    ``content`` is the post-processed, stripped text (for a rejected output too: what the player
    sees of its own attempt in its prompt).
    """
    text = postprocess_lm_selfplay(raw)
    s = text.strip()
    if s.startswith("[propose]"):
        if first_move:
            return Parsed(INVALID, content=s, error=ERR_OPENING_PROPOSAL)
        body = text.split("[propose]")[-1].strip()
        if not -1 < body.find("book") < body.find("hat") < body.find("ball"):
            return Parsed(INVALID, content=s, error=ERR_ORDER)
        numbers = [int(x) for x in _NUMBER.findall(body)]
        if len(numbers) != 3:
            return Parsed(INVALID, content=s, error=ERR_THREE_NUMBERS)
        if not all(0 <= k <= n for k, n in zip(numbers, counts, strict=False)):
            return Parsed(INVALID, content=s, error=ERR_ABOVE_TOTAL)
        first = _NUMBER.findall(text)[:3]
        keep = (int(first[0]), int(first[1]), int(first[2]))
        return Parsed(PROPOSE, content=s, proposal=keep)
    if s.startswith("[message]"):
        if "[message]" in s[10:] or "[propose]" in s[10:]:
            return Parsed(INVALID, content=s, error=ERR_TWO_MOVES)
        if must_propose:
            return Parsed(INVALID, content=s, error=ERR_MUST_PROPOSE)
        return Parsed(MESSAGE, content=s)
    return Parsed(INVALID, content=s, error=ERR_FORMAT)


PARSERS = {"selfgym": parse_output, "lm-selfplay": parse_output_lm_selfplay}


@dataclass
class Move:
    """What one call to ``Game.play`` did. ``delivered`` is what the partner reads (None if nothing).

    ``text`` is the output as the rules keep it (post-processed under lm-selfplay's rules);
    Under lm-selfplay's rules the invalid output that aborts the game also adds the aborting
    player's ``[ABORT]`` message to ``Game.messages``."""

    seat: int
    kind: str
    text: str
    error: str | None = None
    proposal: tuple[int, int, int] | None = None
    delivered: str | None = None


@dataclass
class Game:
    """The state of one game. ``play`` is the only mutator; ``current`` is the seat to move.

    Attributes:
        context, objective, starter: the setup (objective canonical, starter 0 or 1).
        current: seat to move next. proposals: each seat's proposal or None.
        messages: accepted outputs as ``(seat, text)``; invalid: invalid outputs per seat;
        invalid_in_row: consecutive invalid outputs of the current seat.
        outcome: None while running, then ``deal``, ``no_deal``, ``aborted`` or ``cap``.
    """

    context: Context
    objective: str = "semi_competitive"
    starter: int = 0
    max_messages: int = MAX_MESSAGES
    max_invalid: int = MAX_INVALID
    rules: str = "selfgym"
    current: int = field(init=False)
    proposals: list = field(init=False)
    messages: list = field(init=False)
    invalid: list = field(init=False)
    invalid_in_row: int = field(init=False, default=0)
    outcome: str | None = field(init=False, default=None)

    def __post_init__(self):
        self.objective = canonical_objective(self.objective)
        self._parse = PARSERS[check_rules(self.rules)]
        self.current = int(self.starter)
        self.proposals = [None, None]
        self.messages = []
        self.invalid = [0, 0]

    @property
    def done(self) -> bool:
        return self.outcome is not None

    @property
    def must_propose(self) -> bool:
        """True when the seat to move must answer a proposal."""
        return self.proposals[1 - self.current] is not None

    def play(self, text: str) -> Move:
        """Apply the current seat's output; returns what happened. The game must not be over."""
        if self.outcome is not None:
            raise RuntimeError("the game is over")
        seat = self.current
        parsed = self._parse(text, self.context.counts, must_propose=self.proposals[1 - seat] is not None,
                             first_move=not self.messages)
        if parsed.kind == INVALID:
            self.invalid[seat] += 1
            self.invalid_in_row += 1
            if self.invalid_in_row >= self.max_invalid:
                self.outcome = ABORTED
                if self.rules == "lm-selfplay":
                    self.messages.append((seat, ABORT_TOKEN))
            return Move(seat, INVALID, parsed.content if self.rules == "lm-selfplay" else text, error=parsed.error)
        self.invalid_in_row = 0
        self.messages.append((seat, parsed.content))
        if parsed.kind == PROPOSE:
            self.proposals[seat] = parsed.proposal
            delivered = prompts.proposal_notice(self.rules)
            if self.proposals[1 - seat] is not None:
                self.outcome = DEAL if self.deal() is not None else NO_DEAL
        else:
            delivered = parsed.content
        if self.outcome is None and len(self.messages) >= self.max_messages:
            self.outcome = CAPPED
        self.current = 1 - seat
        return Move(seat, parsed.kind, parsed.content, proposal=parsed.proposal, delivered=delivered)

    def deal(self) -> tuple[int, int, int] | None:
        """Player 0's share when both proposals add up to the counts, else None."""
        p0, p1 = self.proposals
        if p0 is None or p1 is None:
            return None
        if all(x + y == n for x, y, n in zip(p0, p1, self.context.counts, strict=False)):
            return p0
        return None

    def scores(self) -> tuple[int, int] | None:
        """Each player's own value of what they keep, when the game ended in a deal."""
        if self.outcome != DEAL:
            return None
        return score(self.context.values[0], self.proposals[0]), score(self.context.values[1], self.proposals[1])

    def rewards(self) -> tuple[float, float]:
        """Both rewards under the game's objective (zeros unless the game ended in a deal)."""
        return rewards(self.objective, self.scores())
