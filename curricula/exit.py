"""ExIt-style task-space bootstrapping: grow new tasks from the agent's own partial episodes.

Exploratory iteration (ExIt) trains an agent to improve on its own earlier attempts. Every
finished episode can seed a new *start*: the original task plus the attempt so far ("here is an
earlier attempt that scored r; improve it"). Such starts go into a bounded buffer, and the ones
worth replaying are those whose outcomes still vary: within a group of episodes on the same
start, a return variance of zero means the start is either solved or hopeless, while a high
variance means it still teaches something (the GRPO signal is non-zero).

On a derived start the quantity to reward is improvement over the earlier attempt,
``max(0, (r_new - r_prev) / (1 - r_prev))`` (``improvement_reward``); ``CurriculumWrapper``
reports it in ``info["improvement_reward"]``.

Deriving a start is family-specific in general; the default, ``self_iteration_task``, appends
the earlier attempt to the prompt, which suits every env that shows ``Task.prompt`` as its
first observation. Pass ``derive=`` for anything else.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from selfgym.curricula.base import TaskSampler
from selfgym.curricula.samplers import UniformSampler
from selfgym.errors import ConfigError
from selfgym.types import Task

DeriveFn = Callable[[Task, Sequence[dict[str, Any]], float], "Task | None"]


def improvement_reward(r_new: float, r_prev: float) -> float:
    """``max(0, (r_new - r_prev) / (1 - r_prev))`` for rewards in [0, 1]; 0 when ``r_prev >= 1``."""
    if r_prev >= 1.0:
        return 0.0
    return max(0.0, (float(r_new) - float(r_prev)) / (1.0 - float(r_prev)))


def self_iteration_task(task: Task, messages: Sequence[dict[str, Any]], reward: float) -> Task | None:
    """A new start: ``task`` plus its last attempt (the final assistant message) and its score.

    Returns None when the episode holds no attempt. The child keeps the parent's family,
    payload and difficulty (plus ``exit_depth``), so the same env and verifier judge it.
    """
    attempts = [m.get("content", "") for m in messages if m.get("role") == "assistant"]
    if not attempts or not str(attempts[-1]).strip():
        return None
    attempt = str(attempts[-1]).strip()
    info = task.metadata.get("exit", {})
    root_prompt = info.get("root_prompt", task.prompt)
    depth = int(info.get("depth", 0)) + 1
    digest = hashlib.sha1(f"{task.id}\n{attempt}".encode()).hexdigest()[:10]
    prompt = (f"{root_prompt}\n\nHere is an earlier attempt, which scored {reward:.2f} out of 1:\n"
              f"---\n{attempt}\n---\nWrite an improved answer (in full).")
    return Task(
        id=f"{info.get('root_id', task.id)}~exit{depth}-{digest}",
        family=task.family,
        prompt=prompt,
        payload=dict(task.payload),
        difficulty={**task.difficulty, "exit_depth": depth},
        source="exit",
        license=task.license,
        metadata={**task.metadata, "exit": {"root_id": info.get("root_id", task.id), "root_prompt": root_prompt,
                                            "parent_id": task.id, "r_prev": float(reward), "depth": depth}},
    )


@dataclass
class BufferEntry:
    """One start in the ExIt buffer and the returns seen on it."""

    task: Task
    returns: list[float] = field(default_factory=list)
    prior: float = 0.25  # priority before a group has been measured

    def priority(self, group_size: int) -> float:
        if len(self.returns) < 2:
            return self.prior
        return float(np.var(self.returns[-group_size:]))


class ExItSampler(TaskSampler):
    """Mix the base task set with starts grown from partial episodes, replayed by return variance.

    Args:
        tasks: the base task set.
        base: the sampler for base tasks (default: uniform over ``tasks``).
        p_exit: probability of drawing from the buffer when it holds anything.
        buffer_size: most starts kept; the lowest-priority one is dropped first.
        group_size: returns per start that form one group (its variance is the priority).
        max_depth: no start is derived from one already this many steps removed from its root.
        derive: ``(task, messages, reward) -> Task | None``; default ``self_iteration_task``.
        min_priority: starts whose measured variance falls to this or below are dropped.
        key, window: as for every sampler (the default base sampler uses them too).
    """

    name = "exit"

    def __init__(self, tasks, seed: int = 0, base: TaskSampler | None = None, p_exit: float = 0.5,
                 buffer_size: int = 256, group_size: int = 4, max_depth: int = 3,
                 derive: DeriveFn | None = None, min_priority: float = 0.0, key=None, window: int = 20):
        super().__init__(tasks, seed=seed, key=key, window=window)
        if not 0 <= p_exit <= 1:
            raise ConfigError(f"p_exit must be in [0, 1], got {p_exit}")
        if buffer_size < 1 or group_size < 2 or max_depth < 1:
            raise ConfigError(f"need buffer_size >= 1, group_size >= 2, max_depth >= 1; got {buffer_size}, {group_size}, {max_depth}")
        self.base = base if base is not None else UniformSampler(self.tasks, seed=seed + 1, key=key, window=window)
        self.p_exit, self.buffer_size, self.group_size = float(p_exit), int(buffer_size), int(group_size)
        self.max_depth, self.min_priority = int(max_depth), float(min_priority)
        self.derive = derive or self_iteration_task
        self.buffer: dict[str, BufferEntry] = {}
        self.group_returns: dict[str, list[float]] = {}

    def reseed(self, seed: int) -> None:
        super().reseed(seed)
        self.base.reseed(seed + 1)

    # ----------------------------------------------------------------- sampling
    def sample(self) -> Task:
        if self.buffer and self.rng.random() < self.p_exit:
            entries = list(self.buffer.values())
            w = np.array([e.priority(self.group_size) for e in entries]) + 1e-6
            return entries[int(self.rng.choice(len(entries), p=w / w.sum()))].task
        return self.base.sample()

    def update(self, task, reward: float) -> None:
        task = Task.coerce(task)
        if math.isnan(float(reward)):
            return
        self.steps += 1
        if task.id in self.buffer:
            entry = self.buffer[task.id]
            entry.returns.append(float(reward))
            if len(entry.returns) >= self.group_size and entry.priority(self.group_size) <= self.min_priority:
                del self.buffer[task.id]  # solved or hopeless: nothing left to learn from it
        else:
            self.base.update(task, reward)
        self.group_returns.setdefault(task.id, []).append(float(reward))

    def observe_episode(self, task, messages: Sequence[dict[str, Any]], reward: float) -> Task | None:
        """Offer a finished (or partial) episode as a new start; returns the start added, if any.

        The start's priority before it is measured is the return variance of its parent's
        latest group (0.25, the largest a [0, 1] score can have, while that group is incomplete).
        """
        task = Task.coerce(task)
        if math.isnan(float(reward)) or float(reward) >= 1.0:
            return None  # nothing to improve on, or nothing known
        if int(task.metadata.get("exit", {}).get("depth", 0)) >= self.max_depth:
            return None
        child = self.derive(task, messages, float(reward))
        if child is None or child.id in self.buffer:
            return None
        parent = self.group_returns.get(task.id, [])
        prior = float(np.var(parent[-self.group_size:])) if len(parent) >= self.group_size else 0.25
        if len(parent) >= self.group_size and prior <= self.min_priority:
            return None
        self.buffer[child.id] = BufferEntry(child, prior=prior)
        if len(self.buffer) > self.buffer_size:
            worst = min(self.buffer, key=lambda k: self.buffer[k].priority(self.group_size))
            del self.buffer[worst]
        return child if child.id in self.buffer else None

    def summary(self) -> dict[str, Any]:
        return {**super().summary(), "buffer": len(self.buffer)}
