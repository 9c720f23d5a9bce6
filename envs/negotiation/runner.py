"""Self-play runs: many games between policies, trajectories per seat, and the filtered
behaviour-cloning dataset of Liao, Tomlin and Klein (2024).

Policies are ``selfgym.agent.Agent`` objects. Games run side by side; at every turn the movers
that share a policy are asked together through ``act_batch``, so an LLM policy gets batches.

**Token ids.** After ``act_batch`` a policy may expose the completions behind its actions as
``last_completions`` (a list of ``selfgym.llm.Completion`` aligned with the batch), or, for a
batch of one, ``last_completion``. The runner copies their ``token_ids``, ``logprobs`` and
``prompt_token_ids`` into that seat's ``Step``; policies without them leave those fields None.

**Modes.** ``run_round(policy)`` is self-play (one policy in both seats; both seats are
trainable). ``run_round(policy, opponents=[...])`` plays the policy against a pool (earlier
snapshots, scripted partners): each game draws an opponent, the policy alternates seats, and
only the policy's seats are trainable.

**Filtered behaviour cloning** (``filter_for_bc``). The default follows the games' rules:
``"above_avg"`` under lm-selfplay's rules, ``"per_seat_mean"`` under selfgym's. lm-selfplay's filters:

- ``"above_avg"`` (the paper's): one cutoff, the mean reward over every trainable
  seat of the round (both seats pooled); a seat's game is kept when its reward is strictly
  above the cutoff;
- ``"nonzero"``: cutoff 0; ``"all"``: every trainable seat's game;
- under the competitive objective a valid deal with both rewards 0 (a tie) is kept too, with
  every filter;
- ``"per_seat_mean"``: selfgym's own filter, a separate mean per seat (no tie rule).

Each kept seat's game becomes one example ``{"messages": [...]}`` holding that seat's clean
dialogue (rejected outputs left out), ready for TRL's ``SFTTrainer``. Under selfgym's rules it
ends with the seat's last output; under lm-selfplay's rules it is that code's whole training log
(up to the game's last message, an ``[ABORT]`` included). A seat that never spoke gives no example.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from selfgym.envs.negotiation import metrics
from selfgym.envs.negotiation.env import AGENTS, NegotiationAECEnv

from selfgym.agent import Agent
from selfgym.errors import ConfigError, require
from selfgym.types import Episode, Step, Task, dump_jsonl, to_jsonable

ENV_NAME = "selfgym/negotiation"
FILTERS = ("above_avg", "nonzero", "all", "per_seat_mean")
DEFAULT_FILTER = {"lm-selfplay": "above_avg", "selfgym": "per_seat_mean"}


def default_filter(rules: str) -> str:
    """The behaviour-cloning filter of a rule set: the paper's under lm-selfplay's rules."""
    return DEFAULT_FILTER[rules]


def policy_name(agent: Agent) -> str:
    return str(getattr(agent, "name", None) or type(agent).__name__)


@dataclass
class GameRecord:
    """One finished game: its seats' policies, trajectories, metrics and clean dialogues."""

    index: int
    seed: int
    task_id: str
    policies: tuple[str, str]
    trainable: tuple[bool, bool]
    episodes: tuple[Episode, Episode]
    metrics: dict[str, Any]
    clean: tuple[list[dict[str, Any]], list[dict[str, Any]]]
    transcript: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "seed": self.seed, "task_id": self.task_id, "policies": list(self.policies),
                "trainable": list(self.trainable), "metrics": self.metrics, "transcript": self.transcript}


def _completions(agent: Agent, n: int) -> list[Any]:
    comps = getattr(agent, "last_completions", None)
    if comps is not None and len(comps) == n:
        return list(comps)
    one = getattr(agent, "last_completion", None)
    if one is not None and n == 1:
        return [one]
    return [None] * n


def play_games(seatings: Sequence[tuple[Agent, Agent]], *, seeds: Sequence[int],
               tasks: Sequence[Task | None] | None = None,
               trainable: Sequence[tuple[bool, bool]] | None = None, env_kwargs: dict[str, Any] | None = None,
               batch_size: int = 64) -> list[GameRecord]:
    """Play one game per seating (``(player_0 policy, player_1 policy)``), ``batch_size`` at a time."""
    if len(seeds) != len(seatings):
        raise ConfigError(f"need one seed per game: {len(seeds)} seeds for {len(seatings)} games")
    tasks = list(tasks) if tasks is not None else [None] * len(seatings)
    trainable = list(trainable) if trainable is not None else [(True, True)] * len(seatings)
    records: list[GameRecord] = []
    for start in range(0, len(seatings), max(1, batch_size)):
        idx = range(start, min(start + batch_size, len(seatings)))
        records.extend(_play_batch(list(idx), seatings, seeds, tasks, trainable, env_kwargs or {}))
    return records


def _play_batch(idx, seatings, seeds, tasks, trainable, env_kwargs) -> list[GameRecord]:
    envs, steps = {}, {}
    for i in idx:
        env = NegotiationAECEnv(**env_kwargs)
        env.reset(seed=int(seeds[i]), options={"task": tasks[i]} if tasks[i] is not None else None)
        envs[i], steps[i] = env, ([], [])
        for agent in seatings[i]:
            agent.reset()
    active = list(idx)
    while active:
        groups: dict[int, list[int]] = {}
        for i in active:
            seat = AGENTS.index(envs[i].agent_selection)
            groups.setdefault(id(seatings[i][seat]), []).append(i)
        for games in groups.values():
            first = games[0]
            agent = seatings[first][AGENTS.index(envs[first].agent_selection)]
            obs = [envs[i].observe(envs[i].agent_selection) for i in games]
            infos = [envs[i].infos[envs[i].agent_selection] for i in games]
            actions = agent.act_batch(obs, infos)
            if len(actions) != len(games):
                raise ConfigError(f"{policy_name(agent)}.act_batch returned {len(actions)} actions for {len(games)} observations")
            for i, o, action, comp in zip(games, obs, actions, _completions(agent, len(games)), strict=False):
                env = envs[i]
                seat = AGENTS.index(env.agent_selection)
                env.step(action)
                info = env.infos[AGENTS[seat]]
                steps[i][seat].append(Step(
                    observation=o["text"], action=action if isinstance(action, str) else str(action), reward=0.0,
                    info={"turn": int(o["turn"]), **({"action_error": info["action_error"]} if "action_error" in info else {})},
                    token_ids=getattr(comp, "token_ids", None), logprobs=getattr(comp, "logprobs", None),
                    prompt_token_ids=getattr(comp, "prompt_token_ids", None),
                ))
        active = [i for i in active if not envs[i].dialogue.done]
    return [_record(i, envs[i], steps[i], seatings[i], seeds[i], trainable[i]) for i in idx]


def _trim(chat: list[dict[str, Any]], rules: str = "selfgym") -> list[dict[str, Any]]:
    chat = [dict(m) for m in chat]
    if rules == "lm-selfplay":
        return chat
    while chat and chat[-1]["role"] != "assistant":
        chat.pop()
    return chat


def _record(i, env, seat_steps, seating, seed, trainable) -> GameRecord:
    d = env.dialogue
    m = metrics.game_metrics(d)
    capped = m["outcome"] == "cap"
    names = (policy_name(seating[0]), policy_name(seating[1]))
    episodes = []
    for seat in (0, 1):
        st = seat_steps[seat]
        if st:
            st[-1].reward = float(m["rewards"][seat])
            st[-1].terminated, st[-1].truncated = not capped, capped
            st[-1].info["metrics"] = m
        episodes.append(Episode(env_id=ENV_NAME, task_id=env.task.id, seed=int(seed), steps=st, agent=names[seat],
                                metadata={"game": i, "seat": seat, "reward": float(m["rewards"][seat]),
                                          "messages": d.chats[seat]}))
    return GameRecord(i, int(seed), env.task.id, names, tuple(trainable), tuple(episodes), m,
                      (_trim(d.clean[0], d.rules), _trim(d.clean[1], d.rules)), d.transcript())


def filter_for_bc(records: Sequence[GameRecord], filter: str | None = None) -> list[dict[str, Any]]:
    """The trainable seats' games kept for behaviour cloning (see the module docstring); ``None``:
    the default filter of the games' rules.

    Examples carry ``messages``, ``game``, ``seat``, ``reward``, ``cutoff`` (the reward a game had
    to beat), ``round_mean`` (the mean the cutoff came from: pooled, or the seat's own for
    ``per_seat_mean``), ``filter``, ``task_id``, ``policy``. The paper's filters list seat 0's
    games, then seat 1's (as lm-selfplay writes them); ``per_seat_mean`` orders by game.
    """
    if filter is None:
        filter = default_filter(records[0].metrics.get("rules", "selfgym")) if records else "above_avg"
    if filter not in FILTERS:
        raise ConfigError(f"filter must be one of {FILTERS}, got {filter!r}")

    def spoke(r: GameRecord, seat: int) -> bool:
        return any(m["role"] == "assistant" for m in r.clean[seat])

    seats = {seat: [r for r in records if r.trainable[seat] and spoke(r, seat)] for seat in (0, 1)}
    examples = []
    if filter == "per_seat_mean":
        for seat, mine in seats.items():
            if not mine:
                continue
            mean = float(np.mean([r.metrics["rewards"][seat] for r in mine]))
            for r in mine:
                reward = float(r.metrics["rewards"][seat])
                if reward > mean:
                    examples.append(_example(r, seat, mean, mean, filter))
        examples.sort(key=lambda e: (e["game"], e["seat"]))
        return examples
    pooled = [float(r.metrics["rewards"][s]) for r in records for s in (0, 1) if r.trainable[s]]
    mean = float(np.mean(pooled)) if pooled else math.nan
    cutoff = {"above_avg": mean, "nonzero": 0.0, "all": -math.inf}[filter]
    for seat, mine in seats.items():
        for r in mine:
            m = r.metrics
            tie = m["objective"] == "competitive" and m["agreement"] and m["rewards"] == [0.0, 0.0]
            if float(m["rewards"][seat]) > cutoff or tie:
                examples.append(_example(r, seat, cutoff, mean, filter))
    return examples


def _example(r: GameRecord, seat: int, cutoff: float, mean: float, filter: str) -> dict[str, Any]:
    return {"messages": r.clean[seat], "game": r.index, "seat": seat, "reward": float(r.metrics["rewards"][seat]),
            "cutoff": cutoff, "round_mean": mean, "filter": filter, "task_id": r.task_id, "policy": r.policies[seat]}


def to_hf_dataset(examples: Sequence[dict[str, Any]]):
    """A Hugging Face ``datasets.Dataset`` with a conversational ``messages`` column (and metadata)."""
    datasets = require("datasets", "data", "the behaviour-cloning dataset")
    keys = ("messages", "game", "seat", "reward", "cutoff", "round_mean", "filter", "task_id", "policy")
    cols = {k: [e[k] for e in examples] for k in keys}
    features = datasets.Features({
        "messages": [{"role": datasets.Value("string"), "content": datasets.Value("string")}],
        "game": datasets.Value("int64"), "seat": datasets.Value("int64"), "reward": datasets.Value("float64"),
        "cutoff": datasets.Value("float64"), "round_mean": datasets.Value("float64"),
        "filter": datasets.Value("string"),
        "task_id": datasets.Value("string"), "policy": datasets.Value("string"),
    })
    return datasets.Dataset.from_dict(cols, features=features)


@dataclass
class RoundResult:
    """What ``run_round`` produced: the games, their summary and the filtered BC examples."""

    records: list[GameRecord]
    summary: dict[str, Any]
    bc_examples: list[dict[str, Any]]
    files: dict[str, str] = field(default_factory=dict)


def run_round(policy: Agent, *, opponents: Sequence[Agent] | None = None, games: int = 100, seed: int = 0,
              objective: str = "semi_competitive", contexts: Any = None, tasks: Sequence[Task] | None = None,
              max_messages: int = 50, batch_size: int = 64, out_dir: str | os.PathLike | None = None,
              hf_dataset: bool = True, rules: str = "selfgym", bc_filter: str | None = None,
              league: Any = None, learner: str | None = None) -> RoundResult:
    """One round: ``games`` games of self-play (no ``opponents``) or against a pool; optionally written to ``out_dir``.

    Game ``i`` uses seed ``seed + i`` (context and starter) or ``tasks[i % len(tasks)]``.
    ``rules`` is the rule set (``"selfgym"`` or ``"lm-selfplay"``), ``bc_filter`` one of ``FILTERS``
    (default: ``default_filter(rules)``).

    Against a pool, opponents are drawn by rating from a ``selfgym.population.League``: pass one
    (``league``, with the policy as member ``learner``) to keep ratings across rounds, or let
    ``opponents`` make a fresh one. The policy alternates seats, only its seats are trainable, the
    ratings are updated from the round's games, and ``summary["league"]`` is the league table.

    Files in ``out_dir``: ``trajectories_player_0.jsonl`` / ``trajectories_player_1.jsonl``
    (one ``Episode`` per game and seat), ``games.jsonl`` (metrics and transcripts),
    ``summary.json``, ``bc.jsonl`` and, with ``hf_dataset``, ``bc_dataset/`` (``Dataset.save_to_disk``).
    """
    if games < 1:
        raise ConfigError(f"games must be >= 1, got {games}")
    bc_filter = bc_filter or default_filter(rules)
    if bc_filter not in FILTERS:
        raise ConfigError(f"bc_filter must be one of {FILTERS}, got {bc_filter!r}")
    if opponents and league is None:
        league, learner = pool_league(policy, opponents, seed=seed)
    seatings, trainable, names = [], [], []
    for i in range(games):
        if league is None:
            seatings.append((policy, policy))
            trainable.append((True, True))
            continue
        seat = AGENTS[i % 2]
        other = league.matchmake(learner, AGENTS[1 - i % 2])
        me = league.members[learner]
        pair = (me, other) if seat == AGENTS[0] else (other, me)
        seatings.append((pair[0].policy, pair[1].policy))
        names.append({AGENTS[0]: pair[0].name, AGENTS[1]: pair[1].name})
        trainable.append((True, False) if i % 2 == 0 else (False, True))
    game_tasks = [tasks[i % len(tasks)] for i in range(games)] if tasks else None
    env_kwargs = {"objective": objective, "contexts": contexts, "max_messages": max_messages, "rules": rules}
    records = play_games(seatings, seeds=[seed + i for i in range(games)], tasks=game_tasks, trainable=trainable,
                         env_kwargs=env_kwargs, batch_size=batch_size)
    if league is not None:
        for r, who in zip(records, names, strict=False):
            r.policies = (who[AGENTS[0]], who[AGENTS[1]])
            league.record(who, {AGENTS[0]: r.metrics["rewards"][0], AGENTS[1]: r.metrics["rewards"][1]})
    summary = summarize_round(records, learner or policy_name(policy), bc_filter)
    if league is not None:
        summary["league"] = league.table()
    result = RoundResult(records, summary, filter_for_bc(records, bc_filter))
    if out_dir is not None:
        result.files = write_round(result, out_dir, hf_dataset=hf_dataset)
    return result


def pool_league(policy: Agent, opponents: Sequence[Agent], seed: int = 0) -> tuple[Any, str]:
    """A ``selfgym.population.League`` with ``policy`` as its learner and ``opponents`` as the pool
    (models as checkpoints, the rest as scripted players); names are made unique. Returns the
    league and the learner's name."""
    from selfgym.population import League

    league = League(seed=seed)
    used: set[str] = set()

    def unique(name: str) -> str:
        out, k = name, 1
        while out in used:
            k += 1
            out = f"{name}#{k}"
        used.add(out)
        return out

    learner = unique(policy_name(policy))
    league.add(learner, policy, kind="learner")
    for other in opponents:
        kind = "checkpoint" if hasattr(other, "backend") else "scripted"
        league.add(unique(policy_name(other)), other, kind=kind)
    return league, learner


def summarize_round(records: Sequence[GameRecord], learner: str | None = None,
                    bc_filter: str | None = None) -> dict[str, Any]:
    """``metrics.summarize`` over all games (lm-selfplay's metrics included), plus the learner's
    mean reward and the size of the BC set under ``bc_filter``."""
    out = metrics.summarize(r.metrics for r in records)
    rewards = [r.metrics["rewards"][s] for r in records for s in (0, 1) if r.trainable[s]]
    out["learner"] = learner
    out["learner_reward"] = float(np.mean(rewards)) if rewards else math.nan
    out["bc_examples"] = len(filter_for_bc(records, bc_filter))
    out["bc_filter"] = bc_filter or (default_filter(records[0].metrics.get("rules", "selfgym")) if records else None)
    return out


def write_round(result: RoundResult, out_dir: str | os.PathLike, hf_dataset: bool = True) -> dict[str, str]:
    """Write a round's files (see ``run_round``); returns their paths by name."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for seat, agent in enumerate(AGENTS):
        path = out / f"trajectories_{agent}.jsonl"
        dump_jsonl((r.episodes[seat] for r in result.records), path)
        files[f"trajectories_{agent}"] = str(path)
    files["games"] = str(out / "games.jsonl")
    dump_jsonl((r.to_dict() for r in result.records), files["games"])
    files["summary"] = str(out / "summary.json")
    Path(files["summary"]).write_text(json.dumps(to_jsonable(result.summary), indent=2) + "\n", encoding="utf-8")
    files["bc"] = str(out / "bc.jsonl")
    dump_jsonl(result.bc_examples, files["bc"])
    if hf_dataset:
        files["bc_dataset"] = str(out / "bc_dataset")
        to_hf_dataset(result.bc_examples).save_to_disk(files["bc_dataset"])
    return files
