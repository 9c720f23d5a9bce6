"""Per-game metrics and run summaries.

``game_metrics(dialogue)`` is put in ``info["metrics"]`` on a game's terminal step;
``summarize(list_of_metrics)`` turns many games into the numbers a run reports, among them the
metrics of lm-selfplay's analysis (Liao, Tomlin and Klein, 2024): the objective scores of both
seats pooled (mean and median, over all games and over deals), agreement rate, abort rate,
dialogue length in messages, and the Pareto-optimal share under the objective's scores over
all games (``pareto_rate_objective``; selfgym's own ``pareto_rate`` uses raw points and counts
only deals).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from typing import Any

from selfgym.envs.negotiation import rules
from selfgym.envs.negotiation.dialogue import Dialogue

from selfgym.types import CheckResult, Status, Verdict


def game_metrics(d: Dialogue) -> dict[str, Any]:
    """Agreement, each player's own score, the joint score, Pareto optimality of the deal,
    accepted turns, invalid outputs per seat, the outcome and both rewards."""
    g = d.game
    scores = g.scores()
    deal = g.deal() if g.outcome == rules.DEAL else None
    r = g.rewards()
    return {
        "outcome": g.outcome,
        "agreement": g.outcome == rules.DEAL,
        "scores": list(scores) if scores else [0, 0],
        "joint_score": sum(scores) if scores else 0,
        "pareto_optimal": rules.is_pareto_optimal(g.context, deal) if deal is not None else False,
        "turns": len(g.messages),
        "invalid_outputs": list(g.invalid),
        "rewards": list(r),
        "objective": g.objective,
        "starter": g.starter,
        "aborted": g.outcome == rules.ABORTED,
        "pareto_optimal_objective": rules.is_pareto_optimal_under(g.context, g.objective, r[0], r[1]),
        "rules": g.rules,
    }


def verdict(d: Dialogue, seat: int) -> Verdict:
    """A Verdict for one seat of a finished game (reward: that seat's reward)."""
    m = game_metrics(d)
    agreed = m["agreement"]
    return Verdict(
        reward=m["rewards"][seat],
        passed=agreed,
        status=Status.OK if agreed else Status.TASK_FAILURE,
        checks=[
            CheckResult("agreement", agreed, "" if agreed else f"no deal ({m['outcome']})"),
            CheckResult("pareto_optimal", m["pareto_optimal"], "" if m["pareto_optimal"] else "a better split existed for both",
                        score=float(m["joint_score"])),
        ],
        error=None if agreed else f"no deal ({m['outcome']})",
    )


def verdict_dict(m: dict[str, Any], seat: int) -> dict[str, Any]:
    """``verdict(d, seat).to_dict()`` built straight from ``game_metrics`` output (the envs' fast path)."""
    agreed = m["agreement"]
    pareto = m["pareto_optimal"]
    return {
        "reward": m["rewards"][seat],
        "passed": agreed,
        "status": Status.OK.value if agreed else Status.TASK_FAILURE.value,
        "checks": [
            {"name": "agreement", "passed": agreed, "message": "" if agreed else f"no deal ({m['outcome']})",
             "score": None, "expected": None, "got": None},
            {"name": "pareto_optimal", "passed": pareto, "message": "" if pareto else "a better split existed for both",
             "score": float(m["joint_score"]), "expected": None, "got": None},
        ],
        "timings": {},
        "error": None if agreed else f"no deal ({m['outcome']})",
    }


def _mean(xs: list[float]) -> float:
    return float(sum(xs) / len(xs)) if xs else math.nan


def _median(xs: list[float]) -> float:
    return float(statistics.median(xs)) if xs else math.nan


def summarize(games: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Means over games: agreement rate, each seat's score and reward, joint score, Pareto rate
    (share of all games that ended in a Pareto-optimal deal, and among deals), turns, invalid
    outputs; and lm-selfplay's analysis (see the module docstring): ``abort_rate``,
    ``score_mean``/``score_median`` (both seats' rewards pooled), ``deal_score_mean``/
    ``deal_score_median`` (the same over deals), ``dialogue_length`` (messages per game, an
    ``[ABORT]`` included under lm-selfplay's rules), ``dialogue_length_of_deals`` and
    ``pareto_rate_objective``."""
    games = list(games)
    deals = [g for g in games if g["agreement"]]
    outcomes: dict[str, int] = {}
    for g in games:
        outcomes[g["outcome"]] = outcomes.get(g["outcome"], 0) + 1
    return {
        "games": len(games),
        "agreement_rate": _mean([float(g["agreement"]) for g in games]),
        "score_0": _mean([g["scores"][0] for g in games]),
        "score_1": _mean([g["scores"][1] for g in games]),
        "reward_0": _mean([g["rewards"][0] for g in games]),
        "reward_1": _mean([g["rewards"][1] for g in games]),
        "joint_score": _mean([g["joint_score"] for g in games]),
        "pareto_rate": _mean([float(g["pareto_optimal"]) for g in games]),
        "pareto_rate_of_deals": _mean([float(g["pareto_optimal"]) for g in deals]),
        "turns": _mean([g["turns"] for g in games]),
        "invalid_outputs": _mean([sum(g["invalid_outputs"]) for g in games]),
        "outcomes": outcomes,
        **paper_metrics(games),
    }


def paper_metrics(games: Iterable[dict[str, Any]]) -> dict[str, float]:
    """lm-selfplay's analysis of a set of games (see ``summarize``)."""
    games = list(games)
    pooled = [float(g["rewards"][s]) for g in games for s in (0, 1)]
    deals = [g for g in games if g["agreement"]]
    pooled_deals = [float(g["rewards"][s]) for g in deals for s in (0, 1)]
    return {
        "agreement_rate": _mean([float(g["agreement"]) for g in games]),
        "abort_rate": _mean([float(g["outcome"] == rules.ABORTED) for g in games]),
        "score_mean": _mean(pooled),
        "score_median": _median(pooled),
        "deal_score_mean": _mean(pooled_deals),
        "deal_score_median": _median(pooled_deals),
        "dialogue_length": _mean([g["turns"] for g in games]),
        "dialogue_length_of_deals": _mean([g["turns"] for g in deals]),
        "pareto_rate_objective": _mean([float(g["pareto_optimal_objective"]) for g in games]),
    }
