"""The one rollout driver every executor shares, and the ``Transport`` contract it drives.

An executor is a ``Transport``: a set of *slots*, each an env that lives somewhere (this
process, a Gymnasium vector env, a Ray actor on another node, a session on an env server).
``drive(transport, agent, episodes)`` is the only loop (``selfgym.rollout.rollout`` runs it over
the ``Threads`` transport): it resets slots with job seeds, asks the agent for the actions of
every slot whose result has come back (one ``act_batch`` call for all of them), sends each
action to its slot and records ``Episode``s. It never waits for the slowest slot: a slot whose
result is in gets its next action as soon as the agent is free, so every env (every actor) stays
busy and the agent works while other slots step; ``lockstep=True`` waits for every slot instead.

Because the loop is shared, executors differ only in where ``reset`` and ``step`` run; the same
seeds and a deterministic policy give the same trajectories everywhere (tests/distributed
checks this for one id of every family).

Failures. An env never raises for an agent's mistake (that is an error observation), so any
exception a slot raises is *ours*: an actor or node that died, a lost connection, a sandbox that
gave up (``VerifierError``). The episode on that slot is restarted from its seed on a repaired
slot up to ``retries`` times; after that it is recorded as an infrastructure error: a final step
with reward NaN, ``info["reward_valid"] = False``, an ``infra_error`` verdict and
``metadata["status"] = "infra_error"``. No episode is lost and none is scored 0.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from selfgym.agent import Agent
from selfgym.errors import ConfigError
from selfgym.types import Episode, Step, Task, Verdict

# info keys that are the env's whole state (kept once per episode, not per step)
_BULKY = ("messages", "tools")
#: Overlap mode: after the first result comes in, the driver keeps collecting results for this
#: share of the last agent call's duration (at most ``LINGER_MAX_S``) before it calls the agent,
#: so envs whose steps end together are batched together instead of one model call each.
LINGER_FRACTION = 0.1
LINGER_MAX_S = 0.5


def observation_text(obs: Any) -> str:
    """What a Step records of an observation: its text (a dict observation's ``"text"``)."""
    return str(obs.get("text", obs)) if isinstance(obs, dict) else str(obs)


class Transport:
    """Where the envs of one executor live: ``slots`` envs, each driven by tickets.

    ``reset(slot, seed, options)`` and ``step(slot, action)`` start a call and return a hashable
    ticket at once; ``wait(tickets)`` blocks until at least one finished and returns
    ``(ticket, result, error)`` triples (``result`` is ``(obs, info)`` for a reset and the
    Gymnasium 5-tuple for a step; ``error`` an exception, then ``result`` is None). A slot has at
    most one call in flight. ``release(slot)`` says no more work comes for it; ``repair(slot)``
    replaces its env after a failure and says whether the slot can be used again.

    A transport whose ``supports_timeout`` is True also takes ``wait(tickets, timeout=s)``, which
    may return nothing after ``s`` seconds; a ticket with a ``seconds`` attribute says how long
    its call itself ran (else the driver counts from sending to collecting).
    """

    name = "base"
    slots: int = 0
    supports_timeout = False

    def reset(self, slot: int, seed: int, options: dict[str, Any] | None) -> Any:
        raise NotImplementedError

    def step(self, slot: int, action: str) -> Any:
        raise NotImplementedError

    def wait(self, tickets: Sequence[Any]) -> list[tuple[Any, Any, BaseException | None]]:
        raise NotImplementedError

    def release(self, slot: int) -> None:
        """No more episodes will be started on ``slot``."""

    def repair(self, slot: int) -> bool:
        """Replace ``slot``'s env after a failure; False when the slot is gone for good."""
        return False

    def close(self) -> None:
        """Free every env (actors, subprocesses, sessions)."""

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class KeyedAgent(Agent):
    """An agent told which episode each observation belongs to.

    ``drive`` calls ``begin_episode(key, seed, options)`` after each reset,
    ``act_episodes(keys, observations, infos)`` instead of ``act_batch``, and
    ``end_episode(key)`` when the episode is over (finished, cut or failed). Scripted policies
    whose actions depend on the episode (the shadow oracle) use it; plain agents need not.
    """

    def begin_episode(self, key: Hashable, seed: int, options: dict[str, Any] | None) -> None:
        raise NotImplementedError

    def act_episodes(self, keys: Sequence[Hashable], observations: Sequence[Any],
                     infos: Sequence[dict[str, Any]]) -> list[str]:
        raise NotImplementedError

    def end_episode(self, key: Hashable) -> None:
        """Forget an episode."""

    def act_batch(self, observations, infos):
        raise TypeError(f"{type(self).__name__} needs episode keys: run it with selfgym.executors.drive")


@dataclass
class _Slot:
    job: int
    trial: int
    attempt: int
    seed: int
    options: dict[str, Any]
    obs: Any = None
    info: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    started: float = 0.0
    started_at: float = 0.0
    sent: float = 0.0
    phase: str = "reset"
    errors: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.job, self.trial, self.attempt)


def infra_step(obs: Any, error: str) -> Step:
    """The last step of an episode that our infrastructure could not finish: NaN, never 0."""
    verdict = Verdict.infra_error(error)
    return Step(observation=observation_text(obs) if obs is not None else "", action="", reward=math.nan,
                truncated=True, info={"verdict": verdict.to_dict(), "reward_valid": False, "infra_error": error})


def drive(
    transport: Transport,
    agent: Agent,
    episodes: int,
    *,
    seed: int = 0,
    tasks: Sequence[Task | dict[str, Any]] | None = None,
    trials: int = 1,
    max_steps: int = 64,
    retries: int = 2,
    env_id: str | Sequence[str] = "env",
    keep_chats: bool = True,
    on_episode: Callable[[Episode], None] | None = None,
    lockstep: bool = False,
    errors: str = "retry",
) -> list[Episode]:
    """Run ``episodes`` jobs over ``transport``'s slots; returns every job's episodes.

    Arguments mean what they mean for ``selfgym.rollout.rollout`` (job ``k`` uses seed
    ``seed + k`` and ``tasks[k % len(tasks)]``); ``retries`` is how often an episode that hit an
    infrastructure failure is restarted before it is recorded as an infrastructure error;
    ``env_id`` may be a list with one id per slot.

    ``lockstep=False`` (overlap): the agent is called for the slots whose results are in while
    the others are still stepping; results that arrive within a short linger (see
    ``LINGER_FRACTION``) join the same call, and the first call waits for every slot's reset.
    ``lockstep=True``: every slot's call ends before the agent is called for all of them (one
    batch per step, the classic vectorised loop).
    ``errors="raise"``: the first exception a slot raises is raised again once every call in
    flight has ended (no retries; episodes then carry no status/attempts/executor keys).

    Episodes come back in the order they finished; ``metadata`` has job, trial, attempts,
    seconds, status (``"ok"`` or ``"infra_error"``) and, after failures, their errors.
    """
    if episodes < 0 or trials < 1 or max_steps < 1 or retries < 0:
        raise ConfigError(f"need episodes >= 0, trials >= 1, max_steps >= 1, retries >= 0; "
                          f"got {episodes}, {trials}, {max_steps}, {retries}")
    if errors not in ("retry", "raise"):
        raise ConfigError(f"errors must be 'retry' or 'raise', got {errors!r}")
    if transport.slots < 1:
        raise ConfigError(f"the {transport.name} executor has no envs")
    raising = errors == "raise"
    env_ids = [env_id] * transport.slots if isinstance(env_id, str) else list(env_id)
    if len(env_ids) != transport.slots:
        raise ConfigError(f"{len(env_ids)} env ids for {transport.slots} envs")
    keyed = agent if isinstance(agent, KeyedAgent) else None
    agent.reset()
    slots: list[_Slot | None] = [None] * transport.slots
    alive = [True] * transport.slots
    pending: dict[Hashable, int] = {}
    retry_jobs: deque[_Slot] = deque()
    next_job = 0
    finished: list[Episode] = []
    agent_name = getattr(agent, "name", type(agent).__name__)
    failure: BaseException | None = None
    ready: list[int] = []
    last_agent_s = 0.0
    agent_calls = 0

    def options_for(job: int) -> dict[str, Any]:
        if not tasks:
            return {}
        task = tasks[job % len(tasks)]
        return {"task": task.to_dict() if isinstance(task, Task) else task}

    def start(i: int, slot: _Slot) -> None:
        slot.obs, slot.info, slot.steps, slot.phase = None, {}, [], "reset"
        slot.started = slot.sent = time.perf_counter()
        slot.started_at = time.time()
        slots[i] = slot
        pending[transport.reset(i, slot.seed, slot.options or None)] = i

    def assign(i: int) -> None:
        nonlocal next_job
        if not alive[i]:
            slots[i] = None
            return
        if retry_jobs:
            start(i, retry_jobs.popleft())
        elif next_job < episodes:
            start(i, _Slot(job=next_job, trial=1, attempt=1, seed=seed + next_job, options=options_for(next_job)))
            next_job += 1
        else:
            slots[i] = None
            transport.release(i)

    def record(slot: _Slot, info: dict[str, Any], status: str, i: int = 0) -> Episode:
        ep = Episode(
            env_id=env_ids[i], task_id=info.get("task_id", slot.info.get("task_id")), seed=slot.seed, steps=slot.steps,
            agent=agent_name,
            metadata={
                "job": slot.job, "trial": slot.trial, "family": info.get("family", slot.info.get("family")),
                "difficulty": info.get("difficulty", slot.info.get("difficulty")),
                "seconds": time.perf_counter() - slot.started,
                "started_at": slot.started_at, "ended_at": time.time(),
                "completion_tokens": sum(len(s.token_ids or []) for s in slot.steps),
                "messages": info.get("messages", slot.info.get("messages")), "options": slot.options or None,
                **({} if raising else {"status": status, "attempts": slot.attempt, "executor": transport.name}),
                **({"errors": list(slot.errors)} if slot.errors else {}),
            },
        )
        finished.append(ep)
        if keyed is not None:
            keyed.end_episode(slot.key)
        if on_episode is not None:
            on_episode(ep)
        return ep

    def fail(i: int, exc: BaseException) -> None:
        slot = slots[i]
        assert slot is not None
        msg = f"{type(exc).__name__}: {exc}"[:500]
        slot.errors.append(msg)
        if keyed is not None and slot.phase == "step":
            keyed.end_episode(slot.key)
        alive[i] = transport.repair(i)
        if slot.attempt <= retries:
            again = _Slot(job=slot.job, trial=slot.trial, attempt=slot.attempt + 1, seed=slot.seed,
                          options=slot.options, errors=slot.errors)
            if alive[i]:
                start(i, again)
                return
            retry_jobs.append(again)
        else:
            slot.steps.append(infra_step(slot.obs, msg))
            record(slot, slot.info, "infra_error", i)
        slots[i] = None
        assign(i)

    def collect() -> list[tuple[Any, Any, BaseException | None]]:
        """The results to handle now, in slot order (see ``lockstep`` and the linger)."""
        done = list(transport.wait(list(pending)))
        got = {t for t, _, _ in done}
        if lockstep or agent_calls == 0:  # the first call waits for every env's reset
            while len(got) < len(pending):
                more = transport.wait([t for t in pending if t not in got])
                done += more
                got.update(t for t, _, _ in more)
        elif transport.supports_timeout and len(got) < len(pending):
            deadline = time.perf_counter() + min(LINGER_MAX_S, LINGER_FRACTION * last_agent_s)
            while len(got) < len(pending) and (left := deadline - time.perf_counter()) > 0:
                more = transport.wait([t for t in pending if t not in got], timeout=left)  # type: ignore[call-arg]
                if not more:
                    break
                done += more
                got.update(t for t, _, _ in more)
        done.sort(key=lambda d: pending[d[0]])
        return done

    for i in range(transport.slots):
        assign(i)

    while pending:
        for ticket, result, error in collect():
            i = pending.pop(ticket)
            slot = slots[i]
            assert slot is not None
            if error is not None and raising:
                failure = failure or error
            if failure is not None:  # raising: let the calls in flight end, start nothing new
                slots[i] = None
                continue
            if error is not None:
                fail(i, error)
                continue
            if slot.phase == "reset":
                slot.obs, slot.info = result
                slot.phase = "step"
                if keyed is not None:
                    keyed.begin_episode(slot.key, slot.seed, slot.options or None)
                ready.append(i)
                continue
            obs, reward, terminated, truncated, info = result
            t_env = getattr(ticket, "seconds", None)
            if t_env is None:
                t_env = time.perf_counter() - slot.sent
            if len(slot.steps) >= max_steps and not (terminated or truncated):  # this step is in steps
                truncated = True
            last = slot.steps[-1]  # appended when the action was sent
            step_info = {key: v for key, v in info.items() if key not in _BULKY}
            step_info.update(last.info)
            last.reward, last.terminated, last.truncated = float(reward), bool(terminated), bool(truncated)
            last.info = step_info
            last.timings["env"] = t_env
            done_ep = bool(terminated or truncated)
            agent.observe_result(info, float(reward), done_ep)
            if not done_ep:
                slot.obs, slot.info = obs, info
                ready.append(i)
                continue
            ep = record(slot, info, "ok", i)
            if not ep.success and slot.trial < trials:
                start(i, _Slot(job=slot.job, trial=slot.trial + 1, attempt=1, seed=slot.seed, options=slot.options))
            else:
                assign(i)
        if failure is not None:
            ready.clear()
            continue
        # slots freed by failures may pick up queued retries
        for i in range(transport.slots):
            if slots[i] is None and alive[i] and retry_jobs:
                start(i, retry_jobs.popleft())
        if not ready:
            if not pending and (retry_jobs or next_job < episodes) and not any(alive):
                break
            continue
        if lockstep and pending:  # resets of new episodes still running: one batch for all
            continue
        ready.sort()
        live = [slots[i] for i in ready]
        assert all(sl is not None for sl in live)
        obs_list = [sl.obs for sl in live if sl is not None]
        info_list = [sl.info for sl in live if sl is not None]
        t0 = time.perf_counter()
        if keyed is not None:
            actions = keyed.act_episodes([sl.key for sl in live if sl is not None], obs_list, info_list)
        else:
            actions = agent.act_batch(obs_list, info_list)
        t_agent = last_agent_s = time.perf_counter() - t0
        agent_calls += 1
        comps = getattr(agent, "last_completions", None) or []
        chats = getattr(agent, "last_chats", None) or []
        if len(comps) != len(ready):
            comps = [None] * len(ready)
        if len(chats) != len(ready):
            chats = [None] * len(ready)
        for k, i in enumerate(ready):
            slot = slots[i]
            assert slot is not None
            c = comps[k]
            extra: dict[str, Any] = {}
            if keep_chats and chats[k] is not None:
                extra["chat"] = chats[k]
            if c is not None:
                extra["completion"] = c.text
                extra["finish_reason"] = c.finish_reason
            slot.steps.append(Step(
                observation=observation_text(slot.obs), action=actions[k], reward=0.0, info=extra,
                token_ids=getattr(c, "token_ids", None), logprobs=getattr(c, "logprobs", None),
                prompt_token_ids=getattr(c, "prompt_token_ids", None),
                timings={"agent": t_agent, "agent_batch": len(ready)},
            ))
            slot.sent = time.perf_counter()
            pending[transport.step(i, actions[k])] = i
        ready.clear()

    if failure is not None:
        raise failure
    # every slot died: the jobs nobody could run are infrastructure errors, not lost
    while retry_jobs or next_job < episodes:
        slot = retry_jobs.popleft() if retry_jobs else _Slot(job=next_job, trial=1, attempt=0, seed=seed + next_job,
                                                              options=options_for(next_job))
        if slot.attempt == 0:
            next_job += 1
        slot.started, slot.started_at = time.perf_counter(), time.time()
        slot.steps = [infra_step(None, f"no {transport.name} env left to run the episode")]
        record(slot, {}, "infra_error")
    return finished
