"""Population self-play for any PettingZoo AEC env: a league of players, ratings, matchmaking.

A ``League`` holds the players of a population:

- the **learner** (``kind="learner"``): the policy being trained; its seats are trainable;
- **checkpoints** (``kind="checkpoint"``): frozen earlier versions of a learner (for example an
  ``LLMAgent`` over a saved folder, ``checkpoint_agent(path)``);
- **scripted** players (``kind="scripted"``): fixed rule-based policies.

Every member carries an OpenSkill rating (Weng-Lin Plackett-Luce, the ``openskill`` package).
``League.matchmake`` draws opponents with weight ``4 p (1 - p) + floor``, where ``p`` is the
rating model's predicted chance that the learner beats the candidate: even matches are drawn
most. ``League.record`` updates the ratings of a finished game from its seats' rewards (the
higher reward ranks first, equal rewards are a draw); a game whose seats are all the same
member (pure self-play) counts but moves no rating, and a game whose info reports
``reward_valid: False`` (an infrastructure error) is counted as unrated, never as a loss.

``play_matches`` plays games of any AEC env side by side: at every step the movers that share
a policy are asked together through ``act_batch`` (so an LLM policy gets batches) and each seat's
turns become a ``selfgym.types.Episode`` tagged with its seat, its player and whether that seat
is trainable (``metadata["trainable"]``). ``play_round`` puts it together: the learner takes
each seat in turn, matchmaking fills the other seats, ratings are updated, and
``League.table()`` is the league table a report prints.

    from selfgym.population import League, play_round
    from selfgym.envs.negotiation import env as negotiation
    from selfgym.envs.negotiation.partners import FairPartner, GreedyPartner
    league = League(seed=0)
    league.add("me", FairPartner(), kind="learner")
    league.add("greedy", GreedyPartner())
    result = play_round(league, negotiation.env, learner="me", games=20, seed=0)
    print(league.format_table())
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from selfgym.agent import Agent
from selfgym.errors import ConfigError, require
from selfgym.types import Episode, Step, dump_jsonl, to_jsonable

KINDS = ("learner", "checkpoint", "scripted")
MATCH_FLOOR = 0.05  # the weight of the most lopsided pairing, so every opponent keeps being drawn


def _models():
    require("openskill", "population", "population ratings")
    from openskill.models import PlackettLuce

    return PlackettLuce


@dataclass
class Member:
    """One player of the league: its policy, kind, seats it may take, rating and record."""

    name: str
    policy: Agent
    kind: str = "scripted"
    seats: tuple[str, ...] | None = None
    rating: Any = None
    games: int = 0
    rated_games: int = 0
    wins: int = 0
    draws: int = 0
    losses: int = 0
    reward_sum: float = 0.0

    @property
    def trainable(self) -> bool:
        return self.kind == "learner"

    def can_play(self, seat: str) -> bool:
        return self.seats is None or seat in self.seats


class League:
    """The population: members, their OpenSkill ratings, matchmaking and the league table.

    Args:
        seed: seed of the matchmaking draws.
        sharpness: exponent on the match weight ``4 p (1 - p)``; higher draws even matches more.
    """

    def __init__(self, seed: int = 0, sharpness: float = 1.0):
        self.model = _models()()
        self.members: dict[str, Member] = {}
        self.rng = np.random.default_rng(seed)
        self.sharpness = float(sharpness)
        self.unrated_games = 0

    # ------------------------------------------------------------------ members
    def add(self, name: str, policy: Agent, kind: str = "scripted", seats: Sequence[str] | None = None,
            rating: tuple[float, float] | None = None) -> Member:
        """Add a member; ``rating`` is ``(mu, sigma)`` (default: the model's prior)."""
        if kind not in KINDS:
            raise ConfigError(f"kind must be one of {KINDS}, got {kind!r}")
        if name in self.members:
            raise ConfigError(f"the league already has a member named {name!r}")
        if rating is None:
            r = self.model.rating(name=name)
        else:
            r = self.model.rating(mu=rating[0], sigma=rating[1], name=name)
        m = Member(name, policy, kind, tuple(seats) if seats is not None else None, r)
        self.members[name] = m
        return m

    def add_checkpoint(self, name: str, policy: Agent, of: str | None = None,
                       seats: Sequence[str] | None = None) -> Member:
        """A frozen checkpoint joins the pool, starting from the rating of member ``of`` (its learner)."""
        start = None
        if of is not None:
            r = self.members[of].rating
            start = (r.mu, r.sigma)
        return self.add(name, policy, "checkpoint", seats, start)

    def learners(self) -> list[Member]:
        return [m for m in self.members.values() if m.trainable]

    # ------------------------------------------------------------------ matchmaking
    def win_probability(self, a: str, b: str) -> float:
        """The rating model's predicted chance that ``a`` beats ``b``."""
        return float(self.model.predict_win([[self.members[a].rating], [self.members[b].rating]])[0])

    def match_weights(self, learner: str, candidates: Sequence[str]) -> list[float]:
        """Matchmaking weights: ``(4 p (1 - p)) ** sharpness + MATCH_FLOOR`` (``p``: learner beats candidate)."""
        out = []
        for c in candidates:
            p = 0.5 if c == learner else self.win_probability(learner, c)
            out.append((4 * p * (1 - p)) ** self.sharpness + MATCH_FLOOR)
        return out

    def matchmake(self, learner: str, seat: str, include_learner: bool = False) -> Member:
        """Draw an opponent for ``seat`` (members that may take it; the learner itself only with
        ``include_learner``), weighted by ``match_weights``."""
        cands = [m.name for m in self.members.values()
                 if m.can_play(seat) and (m.name != learner or include_learner)
                 and not (m.trainable and m.name != learner)]
        if not cands:
            raise ConfigError(f"no league member can take seat {seat!r} against {learner!r}")
        w = np.array(self.match_weights(learner, cands))
        return self.members[cands[int(self.rng.choice(len(cands), p=w / w.sum()))]]

    # ------------------------------------------------------------------ results
    def record(self, players: dict[str, str], rewards: dict[str, float], valid: bool = True) -> None:
        """Count a finished game (``players``/``rewards`` by seat) and update the ratings."""
        for seat, name in players.items():
            m = self.members[name]
            m.games += 1
            m.reward_sum += float(rewards[seat])
        names = list(dict.fromkeys(players.values()))
        if not valid:
            self.unrated_games += 1
            return
        if len(names) < 2:
            return
        # A member in several seats plays with its best reward of the game.
        best = {n: max(float(rewards[s]) for s, p in players.items() if p == n) for n in names}
        teams = [[self.members[n].rating] for n in names]
        new = self.model.rate(teams, scores=[best[n] for n in names])
        top = max(best.values())
        for n, team in zip(names, new, strict=False):
            m = self.members[n]
            m.rating = team[0]
            m.rated_games += 1
            others = [best[o] for o in names if o != n]
            if best[n] > max(others):
                m.wins += 1
            elif best[n] == top:
                m.draws += 1
            else:
                m.losses += 1

    def table(self) -> list[dict[str, Any]]:
        """The league table, best ordinal (``mu - 3 sigma``) first."""
        rows = []
        for m in self.members.values():
            rows.append({"name": m.name, "kind": m.kind, "mu": round(m.rating.mu, 3), "sigma": round(m.rating.sigma, 3),
                         "ordinal": round(m.rating.ordinal(), 3), "games": m.games, "rated_games": m.rated_games,
                         "wins": m.wins, "draws": m.draws, "losses": m.losses,
                         "mean_reward": round(m.reward_sum / m.games, 4) if m.games else None})
        rows.sort(key=lambda r: -r["ordinal"])
        for i, r in enumerate(rows, 1):
            r["rank"] = i
        return rows

    def format_table(self) -> str:
        """The league table as a Markdown table."""
        return format_table(self.table())


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A league table (``League.table()``) as Markdown."""
    cols = ("rank", "name", "kind", "ordinal", "mu", "sigma", "games", "wins", "draws", "losses", "mean_reward")
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join("" if r[c] is None else str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def checkpoint_agent(path: str | os.PathLike, sampling: Any = None, device: str | None = None,
                     **agent_kwargs: Any) -> Agent:
    """An LLM policy over a saved transformers folder (a frozen checkpoint)."""
    from selfgym.agents.llm import LLMAgent
    from selfgym.llm.transformers import TransformersBackend

    return LLMAgent(TransformersBackend(str(path), device=device), sampling=sampling,
                    name=agent_kwargs.pop("name", f"checkpoint:{Path(path).name}"), **agent_kwargs)


# ---------------------------------------------------------------------- playing
@dataclass
class MatchRecord:
    """One finished game: who sat where, which seats were trainable, rewards and trajectories."""

    index: int
    seed: int
    task_id: str | None
    players: dict[str, str]
    trainable: dict[str, bool]
    rewards: dict[str, float]
    episodes: dict[str, Episode]
    valid: bool = True
    final_info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "seed": self.seed, "task_id": self.task_id, "players": self.players,
                "trainable": self.trainable, "rewards": self.rewards, "valid": self.valid}


def _text(obs: Any) -> str:
    if isinstance(obs, dict) and "text" in obs:
        return str(obs["text"])
    return str(obs)


def _completions(agent: Agent, n: int) -> list[Any]:
    comps = getattr(agent, "last_completions", None)
    if comps is not None and len(comps) == n:
        return list(comps)
    one = getattr(agent, "last_completion", None)
    return [one] if one is not None and n == 1 else [None] * n


def play_matches(env_fn: Callable[[], Any], seatings: Sequence[dict[str, Agent]], *, seeds: Sequence[int],
                 names: Sequence[dict[str, str]] | None = None, trainable: Sequence[dict[str, bool]] | None = None,
                 env_id: str = "", batch_size: int = 64, max_steps: int = 100_000) -> list[MatchRecord]:
    """Play one game of ``env_fn()`` (a PettingZoo AEC env) per seating (``{seat: policy}``),
    ``batch_size`` side by side; returns a ``MatchRecord`` per game (see the module docstring).

    A game still running after ``max_steps`` steps raises (a policy or env that never ends the
    game is a bug, not a result).
    """
    if len(seeds) != len(seatings):
        raise ConfigError(f"need one seed per game: {len(seeds)} seeds for {len(seatings)} games")
    names = list(names) if names is not None else [{s: str(getattr(p, "name", type(p).__name__)) for s, p in st.items()}
                                                   for st in seatings]
    trainable = list(trainable) if trainable is not None else [{s: True for s in st} for st in seatings]
    out: list[MatchRecord] = []
    for start in range(0, len(seatings), max(1, batch_size)):
        idx = list(range(start, min(start + batch_size, len(seatings))))
        out.extend(_play_batch(env_fn, idx, seatings, seeds, names, trainable, env_id, max_steps))
    return out


def _play_batch(env_fn, idx, seatings, seeds, names, trainable, env_id, max_steps) -> list[MatchRecord]:
    envs, steps, totals, finals, counts = {}, {}, {}, {}, {}
    for i in idx:
        env = env_fn()
        env.reset(seed=int(seeds[i]))
        envs[i] = env
        steps[i] = {s: [] for s in env.possible_agents}
        totals[i] = {s: 0.0 for s in env.possible_agents}
        finals[i] = {}
        counts[i] = 0
        for policy in dict.fromkeys(seatings[i].values()):
            policy.reset()
    active = list(idx)
    while active:
        groups: dict[int, list[tuple[int, str, Any, dict]]] = {}
        for i in active:
            env = envs[i]
            seat = env.agent_selection
            obs, reward, term, trunc, info = env.last()
            totals[i][seat] += float(reward)  # what the seat earned since it last moved
            if term or trunc:
                finals[i][seat] = info
                env.step(None)
                continue
            groups.setdefault(id(seatings[i][seat]), []).append((i, seat, obs, info))
        for movers in groups.values():
            i0, seat0 = movers[0][0], movers[0][1]
            policy = seatings[i0][seat0]
            actions = policy.act_batch([m[2] for m in movers], [m[3] for m in movers])
            if len(actions) != len(movers):
                raise ConfigError(f"{names[i0][seat0]}.act_batch returned {len(actions)} actions "
                                  f"for {len(movers)} observations")
            comps = _completions(policy, len(movers))
            for (i, seat, obs, _), action, comp in zip(movers, actions, comps, strict=True):
                env = envs[i]
                env.step(action)
                counts[i] += 1
                new_info = env.infos.get(seat, {}) if env.agents else {}
                steps[i][seat].append(Step(
                    observation=_text(obs), action=action if isinstance(action, str) else str(action), reward=0.0,
                    info={k: new_info[k] for k in ("action_error",) if k in new_info},
                    token_ids=getattr(comp, "token_ids", None), logprobs=getattr(comp, "logprobs", None),
                    prompt_token_ids=getattr(comp, "prompt_token_ids", None)))
                if counts[i] > max_steps:
                    raise ConfigError(f"game {i} ({env_id or type(env).__name__}) did not end within {max_steps} steps")
        active = [i for i in active if envs[i].agents]
    return [_match_record(i, envs[i], steps[i], totals[i], finals[i], seeds[i], names[i], trainable[i], env_id)
            for i in idx]


def _match_record(i, env, seat_steps, totals, finals, seed, names, trainable, env_id) -> MatchRecord:
    valid = all(info.get("reward_valid", True) for info in finals.values())
    task_id = next((info.get("task_id") for info in finals.values() if info.get("task_id")), None)
    episodes = {}
    for seat, st in seat_steps.items():
        info = finals.get(seat, {})
        if st:
            st[-1].reward = totals[seat]
            st[-1].info.update({k: info[k] for k in ("metrics", "verdict", "outcome") if k in info})
        episodes[seat] = Episode(env_id=env_id, task_id=task_id or "", seed=int(seed), steps=st, agent=names[seat],
                                 metadata={"game": i, "seat": seat, "trainable": bool(trainable[seat]),
                                           "player": names[seat], "reward": totals[seat],
                                           "messages": info.get("messages")})
    final = {s: {k: v for k, v in info.items() if k != "messages"} for s, info in finals.items()}
    return MatchRecord(i, int(seed), task_id, dict(names), {s: bool(t) for s, t in trainable.items()}, dict(totals),
                       episodes, valid, final)


@dataclass
class PopulationRound:
    """A round of population play: the games and the league table after it."""

    records: list[MatchRecord]
    table: list[dict[str, Any]]
    files: dict[str, str] = field(default_factory=dict)

    def trajectories(self, trainable_only: bool = True) -> list[Episode]:
        """Every seat's Episode (only the trainable seats' by default)."""
        return [ep for r in self.records for ep in r.episodes.values()
                if not trainable_only or ep.metadata["trainable"]]


def play_round(league: League, env_fn: Callable[[], Any], *, learner: str, games: int, seed: int = 0,
               selfplay_share: float = 0.0, env_id: str = "", batch_size: int = 64,
               out_dir: str | os.PathLike | None = None) -> PopulationRound:
    """``games`` games of ``env_fn()``: the learner takes the env's seats in turn (game ``i``: seat
    ``i mod n`` among those it may take); every other seat is filled by ``League.matchmake``, or
    by the learner itself in a ``selfplay_share`` of the games. Only the learner's seats are
    trainable. Game ``i`` uses seed ``seed + i``. Ratings are updated after the games.
    With ``out_dir``: ``trajectories_<seat>.jsonl``, ``games.jsonl`` and ``league.json``."""
    if games < 1:
        raise ConfigError(f"games must be >= 1, got {games}")
    if learner not in league.members:
        raise ConfigError(f"{learner!r} is not a league member (members: {sorted(league.members)})")
    me = league.members[learner]
    seats = list(env_fn().possible_agents)
    mine = [s for s in seats if me.can_play(s)]
    if not mine:
        raise ConfigError(f"{learner!r} can take none of the seats {seats}")
    seatings, names, trainable = [], [], []
    for i in range(games):
        my_seat = mine[i % len(mine)]
        selfplay = league.rng.random() < selfplay_share
        players = {}
        for s in seats:
            if s == my_seat or (selfplay and me.can_play(s)):
                players[s] = me
            else:
                players[s] = league.matchmake(learner, s)
        seatings.append({s: m.policy for s, m in players.items()})
        names.append({s: m.name for s, m in players.items()})
        trainable.append({s: m.name == learner for s, m in players.items()})
    records = play_matches(env_fn, seatings, seeds=[seed + i for i in range(games)], names=names, trainable=trainable,
                           env_id=env_id, batch_size=batch_size)
    for r in records:
        league.record(r.players, r.rewards, r.valid)
    result = PopulationRound(records, league.table())
    if out_dir is not None:
        result.files = write_round(result, out_dir)
    return result


def write_round(result: PopulationRound, out_dir: str | os.PathLike) -> dict[str, str]:
    """Write a round's trajectories per seat, its games and the league table."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    seats = list(dict.fromkeys(s for r in result.records for s in r.episodes))
    for seat in seats:
        files[f"trajectories_{seat}"] = str(out / f"trajectories_{seat}.jsonl")
        dump_jsonl((r.episodes[seat] for r in result.records if seat in r.episodes), files[f"trajectories_{seat}"])
    files["games"] = str(out / "games.jsonl")
    dump_jsonl((r.to_dict() for r in result.records), files["games"])
    files["league"] = str(out / "league.json")
    Path(files["league"]).write_text(json.dumps(to_jsonable(result.table), indent=2) + "\n", encoding="utf-8")
    return files


def mean_reward(records: Sequence[MatchRecord], trainable_only: bool = True) -> float:
    """Mean reward over the (trainable) seats of ``records``."""
    xs = [r.rewards[s] for r in records for s in r.rewards if r.trainable[s] or not trainable_only]
    return float(np.mean(xs)) if xs else math.nan
