"""Filtered behaviour cloning on Deal or No Deal, measured against a fixed partner.

The training side of ``examples/selfplay_negotiation.py`` (``selfgym.integrations.selfplay``)
plays, filters and clones. This module adds what makes its effect measurable:

- ``context_split(task_id)``: every context belongs to ``"train"`` or ``"heldout"`` by a stable
  hash of its id; ``draw_tasks(n, seed, split)`` draws contexts from the generator's
  distribution within one split. Training games only ever see ``"train"`` contexts, the
  evaluation only ``"heldout"`` ones, so no evaluation context was ever played in training.
- ``play_training_games``: the learner against itself (both seats trainable) and against fixed
  partners (only its seat trainable), on given training contexts, all side by side.
- ``deal_filter``: the games kept for cloning: the learner's seats that reached a valid deal
  and scored strictly above the round's mean reward over all the learner's seats (pooled, as
  lm-selfplay's ``above_avg``). A kept game that was not a deal is an error, never a silent pass.
- ``evaluate``: the learner, decoding greedily, against one fixed scripted partner on the
  held-out contexts; game ``k`` puts the learner in seat ``k % 2`` with seed ``seed + k``, so two
  evaluations of different weights play exactly the same games up to the learner's outputs.
  Reports the agreement rate with its 95% Wilson interval and the learner's mean score with a
  95% bootstrap interval, and keeps the per-game vectors for paired comparisons.
- ``compare(before, after)``: paired bootstrap intervals of the change in agreement and score
  over the same held-out games.
- ``replay(record, ...)``: the game re-played output by output through ``rules.Game`` from its
  trajectories, to check a record's outcome and scores independently of the env.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from selfgym.agent import Agent
from selfgym.envs.negotiation import rules
from selfgym.envs.negotiation.contexts import from_task, generate_context, to_task
from selfgym.envs.negotiation.runner import GameRecord, filter_for_bc, play_games
from selfgym.errors import ConfigError
from selfgym.integrations.selfimprove import paired_bootstrap, split_of, wilson

#: Share of all contexts (by id hash) reserved for evaluation.
HELDOUT_SHARE = 0.5


def context_split(task_id: str) -> str:
    """``"heldout"`` or ``"train"`` for a negotiation context id (stable across machines and runs)."""
    return split_of(task_id, HELDOUT_SHARE)


def draw_tasks(n: int, seed: int, split: str, distinct: bool = True) -> list[Any]:
    """``n`` contexts of one split, drawn from the generator's distribution with ``seed``."""
    if split not in ("train", "heldout"):
        raise ConfigError(f"split must be 'train' or 'heldout', got {split!r}")
    rng = np.random.default_rng(seed)
    tasks, seen = [], set()
    for _ in range(200 * max(1, n)):
        if len(tasks) == n:
            break
        task = to_task(generate_context(rng))
        if context_split(task.id) != split or (distinct and task.id in seen):
            continue
        seen.add(task.id)
        tasks.append(task)
    if len(tasks) < n:
        raise ConfigError(f"could only draw {len(tasks)} distinct {split} contexts of {n}")
    return tasks


def play_training_games(policy: Agent, partners: Sequence[Agent], *, selfplay_games: int, partner_games: int,
                        tasks: Sequence[Any], seed: int, env_kwargs: dict[str, Any],
                        batch_size: int = 64) -> list[GameRecord]:
    """Self-play games, then games against ``partners`` (round robin, the learner alternating
    seats, only its seat trainable), one training context each from ``tasks``; side by side."""
    n = selfplay_games + partner_games
    if n < 1 or selfplay_games < 0 or partner_games < 0:
        raise ConfigError(f"need at least one game (selfplay_games={selfplay_games}, partner_games={partner_games})")
    if partner_games and not partners:
        raise ConfigError("partner_games > 0 needs at least one partner")
    if len(tasks) != n:
        raise ConfigError(f"need one context per game: {len(tasks)} for {n} games")
    bad = [t.id for t in tasks if context_split(t.id) != "train"]
    if bad:
        raise ConfigError(f"training games may only use training contexts; held out: {bad[:3]}")
    seatings: list[tuple[Agent, Agent]] = [(policy, policy)] * selfplay_games
    trainable: list[tuple[bool, bool]] = [(True, True)] * selfplay_games
    for i in range(partner_games):
        other = partners[i % len(partners)]
        seatings.append((policy, other) if i % 2 == 0 else (other, policy))
        trainable.append((True, False) if i % 2 == 0 else (False, True))
    return play_games(seatings, seeds=[seed + i for i in range(n)], tasks=list(tasks), trainable=trainable,
                      batch_size=batch_size, env_kwargs=env_kwargs)


def learner_rewards(records: Sequence[GameRecord]) -> list[float]:
    """The rewards of every trainable seat (the learner's), pooled over both seats."""
    return [float(r.metrics["rewards"][s]) for r in records for s in (0, 1) if r.trainable[s]]


def deal_filter(records: Sequence[GameRecord]) -> list[dict[str, Any]]:
    """BC examples: the learner's seats with a valid deal and a reward strictly above the round's
    pooled mean over all the learner's seats (``filter_for_bc(..., "above_avg")`` restricted to deals)."""
    by_index = {r.index: r for r in records}
    kept = []
    for e in filter_for_bc(records, "above_avg"):
        if by_index[e["game"]].metrics["agreement"]:
            kept.append(e)
    for e in kept:  # the filter's own contract, checked: a deal, above the pooled mean
        r = by_index[e["game"]]
        if not (r.metrics["outcome"] == "deal" and r.trainable[e["seat"]] and e["reward"] > e["round_mean"]):
            raise AssertionError(f"BC filter kept game {e['game']} seat {e['seat']} that did not pass it")
    return kept


def bootstrap_mean(xs: Sequence[float], iters: int = 10000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``xs`` with its 95% percentile bootstrap interval."""
    if not xs:
        raise ValueError("bootstrap_mean needs a non-empty vector")
    n = len(xs)
    rng = random.Random(seed)
    means = sorted(sum(xs[rng.randrange(n)] for _ in range(n)) / n for _ in range(iters))
    return (sum(xs) / n, means[int(0.025 * iters)], means[int(0.975 * iters) - 1])


def evaluate(agent: Agent, partner: Agent, tasks: Sequence[Any], *, seed: int, env_kwargs: dict[str, Any],
             batch_size: int = 64, out_dir: str | None = None) -> dict[str, Any]:
    """The learner against a fixed partner on held-out contexts (see the module docstring);
    ``out_dir`` gets the games (``games.jsonl``, transcripts included)."""
    bad = [t.id for t in tasks if context_split(t.id) != "heldout"]
    if bad:
        raise ConfigError(f"evaluation contexts must be held out; training contexts: {bad[:3]}")
    seatings = [(agent, partner) if k % 2 == 0 else (partner, agent) for k in range(len(tasks))]
    records = play_games(seatings, seeds=[seed + k for k in range(len(tasks))], tasks=list(tasks),
                         trainable=[(k % 2 == 0, k % 2 == 1) for k in range(len(tasks))], batch_size=batch_size,
                         env_kwargs=env_kwargs)
    if out_dir:
        write_jsonl(os.path.join(out_dir, "games.jsonl"), [r.to_dict() for r in records])
    return summarize_eval(records)


def summarize_eval(records: Sequence[GameRecord]) -> dict[str, Any]:
    """Per-game vectors and the summary of an evaluation (the learner is the trainable seat)."""
    seats = [r.trainable.index(True) for r in records]
    agree = [1.0 if r.metrics["agreement"] else 0.0 for r in records]
    score = [float(r.metrics["scores"][s]) if r.metrics["agreement"] else 0.0
             for r, s in zip(records, seats, strict=True)]
    invalid = [int(r.metrics["invalid_outputs"][s]) for r, s in zip(records, seats, strict=True)]
    k, n = int(sum(agree)), len(agree)
    lo, hi = wilson(k, n)
    mean, slo, shi = bootstrap_mean(score)
    deal_scores = [x for x, a in zip(score, agree, strict=True) if a]
    return {
        "games": n, "agreements": k, "agreement_rate": k / max(1, n), "agreement_ci": [lo, hi],
        "score_mean": mean, "score_ci": [slo, shi],
        "deal_score_mean": float(np.mean(deal_scores)) if deal_scores else None,
        "invalid_outputs_mean": float(np.mean(invalid)) if invalid else 0.0,
        "outcomes": dict(Counter(r.metrics["outcome"] for r in records)),
        "per_game": {"task_id": [r.task_id for r in records], "seed": [r.seed for r in records], "seat": seats,
                     "agreement": agree, "score": score, "invalid_outputs": invalid},
    }


def compare(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Paired changes (after - before) of agreement and score over the same held-out games."""
    b, a = before["per_game"], after["per_game"]
    if (b["task_id"], b["seed"], b["seat"]) != (a["task_id"], a["seed"], a["seat"]):
        raise ConfigError("paired comparison needs the same held-out games (contexts, seeds, seats)")
    agr = paired_bootstrap(b["agreement"], a["agreement"])
    sc = paired_bootstrap(b["score"], a["score"])
    return {"agreement_change": agr[0], "agreement_change_ci": [agr[1], agr[2]],
            "score_change": sc[0], "score_change_ci": [sc[1], sc[2]]}


def replay(record: dict[str, Any], episodes: Sequence[dict[str, Any]], *, objective: str = "semi_competitive",
           max_messages: int = rules.MAX_MESSAGES, max_invalid: int = rules.MAX_INVALID) -> rules.Game:
    """Re-play a game from its two seats' trajectories (``Episode`` dicts) through ``rules.Game``.

    Every output (rejected ones too) is applied in the order it was made: a seat's steps are in
    order, and ``info["turn"]`` (accepted outputs before it) orders the two seats' steps.
    """
    ctx = from_task({"id": record["task_id"], "family": "negotiation", "prompt": "",
                     "payload": _payload_of(record["task_id"])})
    steps = []
    for seat, ep in enumerate(episodes):
        for j, st in enumerate(ep["steps"]):
            steps.append((int(st["info"]["turn"]), j, seat, st["action"]))
    steps.sort()
    if not steps:
        raise ValueError("a game without outputs")
    starter = steps[0][2]
    game = rules.Game(ctx, objective=objective, starter=starter, max_messages=max_messages, max_invalid=max_invalid)
    for _, _, seat, action in steps:
        if game.current != seat:
            raise AssertionError(f"game {record.get('index')}: seat {seat} moved out of turn")
        game.play(action)
    return game


def _payload_of(task_id: str) -> dict[str, Any]:
    """The context in a task id ``negotiation/cA-B-C/aA-B-C/bA-B-C``."""
    _, c, a, b = task_id.split("/")
    nums = [[int(x) for x in part[1:].split("-")] for part in (c, a, b)]
    return {"counts": nums[0], "values": [nums[1], nums[2]]}


def finite(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float replaced by None (strict JSON has no NaN)."""
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def write_jsonl(path: str, rows: Sequence[dict[str, Any]]) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def plot(metrics: dict[str, Any], path: str) -> None:
    """Held-out agreement rate and mean score with 95% intervals, before and after each round."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    evals = metrics["eval"]
    xs = list(range(len(evals)))
    labels = [e.get("label", str(i)) for i, e in enumerate(evals)]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, key, ci, title in ((axes[0], "agreement_rate", "agreement_ci", "agreement rate"),
                               (axes[1], "score_mean", "score_ci", "mean score (points of 10)")):
        ys = [e[key] for e in evals]
        lo = [e[key] - e[ci][0] for e in evals]
        hi = [e[ci][1] - e[key] for e in evals]
        ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o-", capsize=4)
        ax.set_xticks(xs, labels)
        ax.set_title(f"held-out {title} vs {metrics['eval_partner']}")
        ax.grid(alpha=0.3)
    fig.suptitle(f"negotiation filtered BC, {metrics['eval_games']} held-out games, 95% intervals", fontsize=10)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
