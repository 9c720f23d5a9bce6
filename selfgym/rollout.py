"""Batched rollouts: many envs, one agent call per step for all of them, trajectories as data.

``rollout(envs, agent, episodes)`` keeps every env busy: each loop gathers the envs that are
mid-episode, asks the agent for all their actions with one ``act_batch`` call (for an LLMAgent:
one batched ``generate``), steps each env, and starts the next episode in any env that finished.
With ``trials > 1`` a failed episode is retried on the same task (same seed and options, which
seeded envs turn into the same task) before the env moves on; agents that learn between trials
(``ReflexionAgent``) are told each result through ``observe_result``.

Env steps and resets of one loop run concurrently in a thread pool (``concurrent_envs=True``, the
default), so a slow env (a sandbox verdict, a remote server, a simulated user) no longer holds up
the others' steps before the next ``act_batch``. Everything else (the agent call, bookkeeping,
``observe_result``, which env starts which job) stays in the calling thread in env order, so the
episodes are the same as with ``concurrent_envs=False`` for the same seeds. Envs bound to the
thread that made them (their ``metadata`` has ``"concurrent_steps": False``, as MiniWoB++'s has:
Playwright's sync API) are stepped in the calling thread.

Each finished episode is an ``Episode`` whose ``Step``s carry the action, reward, verdict,
action error, the exact chat the model saw, its token ids and log-probabilities, and timings.
``save_episodes`` writes them as JSON lines, ``to_hf_dataset`` as a Hugging Face dataset with
one row per model turn, ready for a trainer without re-tokenising.
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from selfgym.agent import Agent
from selfgym.errors import ConfigError
from selfgym.types import Episode, Step, Task, dump_jsonl, load_jsonl

# info keys that are the env's whole state (kept once per episode, not per step)
_BULKY = ("messages", "tools")


@dataclass
class _Slot:
    """One env's current job: which episode, which trial, and what it has done so far."""

    job: int
    trial: int
    seed: int
    options: dict[str, Any]
    obs: Any = None
    info: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    started: float = 0.0
    started_at: float = 0.0  # wall clock (time.time) when the episode began


def _as_env_list(envs: Any) -> list[Any]:
    """A list of envs from a list/tuple or a gymnasium ``SyncVectorEnv`` (its sub-envs)."""
    if isinstance(envs, (list, tuple)):
        out = list(envs)
    elif hasattr(envs, "envs"):  # gymnasium.vector.SyncVectorEnv: step its sub-envs ourselves
        out = list(envs.envs)
    else:
        out = [envs]
    if not out:
        raise ConfigError("rollout needs at least one env")
    return out


def steps_concurrently(env: Any) -> bool:
    """Whether the runner may step/reset ``env`` from a worker thread (see the module docstring)."""
    base = getattr(env, "unwrapped", env)
    return (getattr(base, "metadata", None) or {}).get("concurrent_steps", True) is not False


class _Calls:
    """Runs one call per env, concurrently where allowed; results in the order given.

    Every call finishes before the first exception (in env order) is raised, so no env is left
    mid-step when an error leaves the runner.
    """

    def __init__(self, pool: list[Any], enabled: bool):
        self.free = [enabled and steps_concurrently(e) for e in pool]
        n = sum(self.free)
        self.executor = ThreadPoolExecutor(max_workers=n, thread_name_prefix="selfgym-env") if n > 1 else None

    def map(self, calls: list[tuple[int, Callable[[], Any]]]) -> list[Any]:
        if self.executor is None or sum(self.free[i] for i, _ in calls) < 2:
            return [fn() for _, fn in calls]
        futures = {k: self.executor.submit(fn) for k, (i, fn) in enumerate(calls) if self.free[i]}
        done: list[tuple[bool, Any]] = []
        for k, (_, fn) in enumerate(calls):  # thread-bound envs run here while the others work
            if k in futures:
                done.append((True, None))
                continue
            try:
                done.append((True, fn()))
            except BaseException as exc:  # noqa: BLE001 - re-raised below, after every call ended
                done.append((False, exc))
        for k, fut in futures.items():
            exc = fut.exception()
            done[k] = (False, exc) if exc is not None else (True, fut.result())
        for ok, value in done:
            if not ok:
                raise value
        return [value for _, value in done]

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True)


def observation_text(obs: Any) -> str:
    """What a Step records of an observation: its text (a dict observation's ``"text"``)."""
    return str(obs.get("text", obs)) if isinstance(obs, dict) else str(obs)


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
) -> list[Episode]:
    """Run ``episodes`` jobs (each up to ``trials`` trials) over ``envs``; returns finished episodes.

    Args:
        envs: a list of envs (or a SyncVectorEnv); they run in parallel, one agent call per step.
        agent: any Agent; an LLMAgent's ``last_completions`` supply token ids and logprobs.
        episodes: how many jobs (distinct tasks); job ``k`` uses seed ``seed + k``.
        tasks: optional tasks; job ``k`` plays ``tasks[k % len(tasks)]`` via ``options={"task": ...}``.
        trials: attempts per job; a job stops early once an episode succeeds.
        max_steps: steps after which an episode is cut (``truncated``), for envs without a limit.
        env_id: recorded on each Episode (default: the env's spec id).
        keep_chats: store the exact chat the model saw on each step (``info["chat"]``).
        on_episode: called with each finished Episode (progress bars).
        concurrent_envs: step and reset the envs of one loop concurrently in a thread pool
            (default); ``False`` steps them one after another in the calling thread. The
            episodes are the same either way.
    Returns:
        Episodes in the order they finished; ``metadata`` has job, trial, seconds (the episode's
        own duration), ``started_at`` / ``ended_at`` (wall clock), tokens, messages.
    """
    if episodes < 0 or trials < 1 or max_steps < 1:
        raise ConfigError(f"need episodes >= 0, trials >= 1, max_steps >= 1; got {episodes}, {trials}, {max_steps}")
    pool = _as_env_list(envs)
    ids = [env_id or getattr(getattr(e, "spec", None), "id", None) or type(e).__name__ for e in pool]
    agent.reset()
    next_job = 0
    slots: list[_Slot | None] = [None] * len(pool)
    finished: list[Episode] = []
    calls = _Calls(pool, concurrent_envs)
    to_reset: list[int] = []  # envs whose new slot waits for its reset (run together, see below)

    def start(i: int, job: int, trial: int) -> None:
        options = {"task": tasks[job % len(tasks)]} if tasks else {}
        slots[i] = _Slot(job=job, trial=trial, seed=seed + job, options=options)
        to_reset.append(i)

    def reset_pending() -> None:
        def reset(i: int) -> None:
            slot = slots[i]
            slot.started, slot.started_at = time.perf_counter(), time.time()
            slot.obs, slot.info = pool[i].reset(seed=slot.seed, options=slot.options or None)

        pending = list(to_reset)
        to_reset.clear()
        calls.map([(i, lambda i=i: reset(i)) for i in pending])

    def assign(i: int) -> None:
        nonlocal next_job
        if next_job < episodes:
            start(i, next_job, 1)
            next_job += 1
        else:
            slots[i] = None

    def timed_step(i: int, action: Any) -> tuple[Any, float]:
        t1 = time.perf_counter()
        out = pool[i].step(action)
        return out, time.perf_counter() - t1

    try:
        for i in range(len(pool)):
            assign(i)
        reset_pending()
        while any(s is not None for s in slots):
            active = [i for i, s in enumerate(slots) if s is not None]
            t0 = time.perf_counter()
            actions = agent.act_batch([slots[i].obs for i in active], [slots[i].info for i in active])
            t_agent = time.perf_counter() - t0
            comps = getattr(agent, "last_completions", None) or []
            chats = getattr(agent, "last_chats", None) or []
            if len(comps) != len(active):
                comps = [None] * len(active)
            if len(chats) != len(active):
                chats = [None] * len(active)
            stepped = calls.map([(i, lambda i=i, a=actions[k]: timed_step(i, a)) for k, i in enumerate(active)])
            for k, i in enumerate(active):
                slot = slots[i]
                (obs, reward, terminated, truncated, info), t_env = stepped[k]
                if len(slot.steps) + 1 >= max_steps and not (terminated or truncated):
                    truncated = True
                c = comps[k]
                step_info = {key: v for key, v in info.items() if key not in _BULKY}
                if keep_chats and chats[k] is not None:
                    step_info["chat"] = chats[k]
                if c is not None:
                    step_info["completion"] = c.text
                    step_info["finish_reason"] = c.finish_reason
                slot.steps.append(Step(
                    observation=observation_text(slot.obs), action=actions[k], reward=float(reward),
                    terminated=bool(terminated), truncated=bool(truncated), info=step_info,
                    token_ids=getattr(c, "token_ids", None), logprobs=getattr(c, "logprobs", None),
                    prompt_token_ids=getattr(c, "prompt_token_ids", None),
                    timings={"agent": t_agent, "agent_batch": len(active), "env": t_env},
                ))
                done = bool(terminated or truncated)
                agent.observe_result(info, float(reward), done)
                if not done:
                    slot.obs, slot.info = obs, info
                    continue
                ep = Episode(
                    env_id=ids[i], task_id=info.get("task_id"), seed=slot.seed, steps=slot.steps,
                    agent=getattr(agent, "name", type(agent).__name__),
                    metadata={
                        "job": slot.job, "trial": slot.trial, "family": info.get("family"),
                        "difficulty": info.get("difficulty"), "seconds": time.perf_counter() - slot.started,
                        "started_at": slot.started_at, "ended_at": time.time(),
                        "completion_tokens": sum(len(s.token_ids or []) for s in slot.steps),
                        "messages": info.get("messages"), "options": slot.options or None,
                    },
                )
                finished.append(ep)
                if on_episode is not None:
                    on_episode(ep)
                if not ep.success and slot.trial < trials:
                    start(i, slot.job, slot.trial + 1)
                else:
                    assign(i)
            reset_pending()
    finally:
        calls.close()
    return finished


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
