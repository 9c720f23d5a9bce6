"""Batched rollouts: many envs, one agent call for every env that is ready, trajectories as data.

``rollout(envs, agent, episodes)`` keeps every env busy: each env lives on a thread of its own
(``selfgym.executors.threads``), is reset with its job's seed, and whenever the agent is free it
is asked for the actions of every env whose step has ended (for an LLMAgent: one batched
``generate``), while the other envs are still stepping. An env that finishes starts the next
episode. With ``trials > 1`` a failed episode is retried on the same task (same seed and
options, which seeded envs turn into the same task) before the env moves on; agents that learn
between trials (``ReflexionAgent``) are told each result through ``observe_result``.

The loop is ``selfgym.executors.drive``, the one every executor shares; ``overlap=False`` runs it
in lockstep (every env's step ends before one agent call for all), ``concurrent_envs=False``
steps the envs one after another in the calling thread. Episodes are independent of one
another, so the same seeds give the same episodes in every mode (for an LLM agent: with greedy
decoding on a backend whose outputs do not depend on the batch or its cache); only the order in
which they finish may differ, and the list returned is sorted by job and trial.

Envs bound to the thread that first used them (their ``metadata`` has
``"concurrent_steps": False``, as MiniWoB++'s has: Playwright's sync API) step concurrently
too: each keeps one thread for its whole life (reset, steps and ``close`` run there). Pass such
envs before resetting them, or pass factories so they are made on their threads.

Each finished episode is an ``Episode`` whose ``Step``s carry the action, reward, verdict,
action error, the exact chat the model saw, its token ids and log-probabilities, and timings.
``save_episodes`` writes them as JSON lines, ``to_hf_dataset`` as a Hugging Face dataset with
one row per model turn, ready for a trainer without re-tokenising.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from typing import Any

from selfgym.agent import Agent
from selfgym.errors import ConfigError
from selfgym.executors.driver import drive, observation_text
from selfgym.executors.threads import Threads, steps_concurrently
from selfgym.types import Episode, Task, dump_jsonl, load_jsonl

__all__ = ["load_episodes", "observation_text", "rollout", "save_episodes", "steps_concurrently", "summarize",
           "to_hf_dataset", "turn_rows"]


def _as_env_list(envs: Any) -> list[Any]:
    """A list of envs (or env factories) from a list/tuple or a gymnasium ``SyncVectorEnv``."""
    if isinstance(envs, (list, tuple)):
        out = list(envs)
    elif hasattr(envs, "envs"):  # gymnasium.vector.SyncVectorEnv: step its sub-envs ourselves
        out = list(envs.envs)
    else:
        out = [envs]
    if not out:
        raise ConfigError("rollout needs at least one env")
    return out


def rollout(
    envs: Any,
    agent: Agent,
    episodes: int,
    *,
    seed: int = 0,
    tasks: Sequence[Task | dict[str, Any]] | None = None,
    trials: int = 1,
    max_steps: int = 64,
    env_id: str | None = None,
    keep_chats: bool = True,
    on_episode: Callable[[Episode], None] | None = None,
    concurrent_envs: bool = True,
    overlap: bool = True,
) -> list[Episode]:
    """Run ``episodes`` jobs (each up to ``trials`` trials) over ``envs``; returns finished episodes.

    Args:
        envs: a list of envs (or a SyncVectorEnv), or of env factories (zero-argument callables,
            e.g. ``functools.partial(gym.make, id)``: each env is then made on its own thread and
            closed there when the run ends); they run in parallel.
        agent: any Agent; an LLMAgent's ``last_completions`` supply token ids and logprobs.
            A ``selfgym.executors.KeyedAgent`` is told which episode each observation belongs to.
        episodes: how many jobs (distinct tasks); job ``k`` uses seed ``seed + k``.
        tasks: optional tasks; job ``k`` plays ``tasks[k % len(tasks)]`` via ``options={"task": ...}``
            (a ``Task`` is passed as its dict).
        trials: attempts per job; a job stops early once an episode succeeds.
        max_steps: steps after which an episode is cut (``truncated``), for envs without a limit.
        env_id: recorded on each Episode (default: each env's spec id).
        keep_chats: store the exact chat the model saw on each step (``info["chat"]``).
        on_episode: called with each finished Episode (progress bars).
        concurrent_envs: each env steps on a thread of its own (default); ``False`` steps them
            one after another in the calling thread, in lockstep.
        overlap: call the agent for the envs whose step has ended while the others still step
            (default); ``False`` waits for every env's step and calls the agent once for all of
            them (one batch per step). The episodes are the same either way for the same seeds.
    Returns:
        Episodes sorted by job and trial (``on_episode`` sees them as they finish); ``metadata``
        has job, trial, seconds (the episode's own duration), ``started_at`` / ``ended_at``
        (wall clock), tokens, messages.

    The first exception an env raises is raised again once the other envs' calls in flight have
    ended (an env reports an agent's mistake as an observation; an exception is a broken env).
    """
    if episodes < 0 or trials < 1 or max_steps < 1:
        raise ConfigError(f"need episodes >= 0, trials >= 1, max_steps >= 1; got {episodes}, {trials}, {max_steps}")
    pool = _as_env_list(envs)
    transport = Threads(pool, concurrent=concurrent_envs)
    try:
        ids = [env_id or getattr(getattr(e, "spec", None), "id", None) or type(e).__name__ for e in transport.envs]
        done = drive(transport, agent, episodes, seed=seed, tasks=tasks, trials=trials, max_steps=max_steps,
                     retries=0, env_id=ids, keep_chats=keep_chats, on_episode=on_episode,
                     lockstep=not (overlap and concurrent_envs), errors="raise")
        # Finishing order depends on timing; the list a caller gets does not.
        return sorted(done, key=lambda e: (e.metadata.get("job", 0), e.metadata.get("trial", 1)))
    finally:
        transport.close()


# ------------------------------------------------------------------------- summaries
def summarize(episodes: Sequence[Episode]) -> dict[str, Any]:
    """Totals a run table needs: episodes, jobs, success rates, mean reward, tokens, seconds.

    ``seconds`` is wall time: from the first episode's start to the last one's end (episodes run
    side by side, so adding their durations would count overlapping time several times; that
    sum is ``episode_seconds``). Episodes saved without start/end stamps fall back to the sum.
    """
    n = len(episodes)
    rewards = [e.total_reward for e in episodes if not math.isnan(e.total_reward)]
    jobs: dict[Any, bool] = {}
    for e in episodes:
        key = (e.env_id, e.metadata.get("job"))
        jobs[key] = jobs.get(key, False) or e.success
    first = [e for e in episodes if e.metadata.get("trial", 1) == 1]
    episode_seconds = sum(float(e.metadata.get("seconds", 0.0)) for e in episodes)
    starts = [e.metadata.get("started_at") for e in episodes]
    ends = [e.metadata.get("ended_at") for e in episodes]
    if episodes and all(isinstance(t, (int, float)) for t in starts + ends):
        wall = max(ends) - min(starts)
    else:
        wall = episode_seconds
    return {
        "episodes": n,
        "jobs": len(jobs),
        "success": (sum(e.success for e in first) / len(first)) if first else 0.0,
        "success_any_trial": (sum(jobs.values()) / len(jobs)) if jobs else 0.0,
        "mean_reward": (sum(rewards) / len(rewards)) if rewards else math.nan,
        "invalid_rewards": n - len(rewards),
        "tokens": sum(int(e.metadata.get("completion_tokens", 0)) for e in episodes),
        "steps": sum(len(e.steps) for e in episodes),
        "seconds": wall,
        "episode_seconds": episode_seconds,
    }


# ------------------------------------------------------------------------- export
def save_episodes(episodes: Sequence[Episode], path: str | os.PathLike, append: bool = False) -> int:
    """Write episodes as JSON lines (one episode per line); returns how many."""
    return dump_jsonl(episodes, path, append=append)


def load_episodes(path: str | os.PathLike) -> list[Episode]:
    """Read episodes written by ``save_episodes``."""
    return load_jsonl(path, Episode)


def turn_rows(episodes: Sequence[Episode]) -> list[dict[str, Any]]:
    """One row per model turn: prompt chat, completion, token ids, logprobs, reward and return."""
    rows = []
    for e in episodes:
        ret = e.total_reward
        for t, s in enumerate(e.steps):
            rows.append({
                "env_id": e.env_id, "task_id": e.task_id, "seed": e.seed, "agent": e.agent,
                "job": e.metadata.get("job"), "trial": e.metadata.get("trial"), "step": t,
                "prompt": s.info.get("chat") or [], "completion": s.info.get("completion", s.action),
                "action": s.action, "reward": s.reward, "return": ret, "success": e.success,
                "prompt_token_ids": s.prompt_token_ids or [], "completion_token_ids": s.token_ids or [],
                "logprobs": s.logprobs or [],
            })
    return rows


def to_hf_dataset(episodes: Sequence[Episode]):
    """A ``datasets.Dataset`` of ``turn_rows(episodes)`` (needs the ``data`` extra)."""
    from selfgym.errors import require

    datasets = require("datasets", "data", "exporting trajectories as a Hugging Face dataset")
    return datasets.Dataset.from_list(turn_rows(episodes))
