"""The TaskSampler contract, and the per-task bookkeeping every sampler shares.

A curriculum decides what to practise next. In selfgym it is a ``TaskSampler``:

- ``sample() -> Task``: the next task to play;
- ``update(task, reward)``: what playing it earned (a score in [0, 1] where possible: success,
  or a verifier's fraction passed).

That is the whole contract, declared as the runtime-checkable Protocol ``Sampler`` with its
optional hooks (``reseed(seed)``: restart the random generator when an env is reset with a
seed; ``observe_episode(task, messages, reward)``: see the episode's messages, and optionally
return a derived task; ``name``). ``TaskSampler`` implements all of them (the hooks as no-ops),
so a wrapper calls them without probing. A sampler never touches an env: ``CurriculumWrapper`` hands the
sampled task to the env through ``reset(options={"task": task})`` and reports the episode's score
back, so one sampler works on every family.

Statistics are kept per *key*. By default the key is the task id; pass ``key="difficulty"`` (or
any function of a Task) to pool tasks into buckets, which is what a large or generated task set
needs: a bucket is then sampled first, and a task uniformly inside it.

Samplers are plain picklable objects (no lambdas stored unless the caller passes one), so an env
wrapped with a sampler can be sent to gymnasium's ``AsyncVectorEnv`` workers.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from selfgym.errors import ConfigError
from selfgym.types import Task

KeyFn = Callable[[Task], Hashable]


@runtime_checkable
class Sampler(Protocol):
    """The curriculum contract (see the module docstring); ``TaskSampler`` implements it."""

    name: str

    def sample(self) -> Task: ...

    def update(self, task: Task | dict[str, Any], reward: float) -> None: ...

    def reseed(self, seed: int) -> None: ...

    def observe_episode(self, task: Task, messages: Sequence[dict[str, Any]], reward: float) -> Task | None: ...


def task_key(task: Task) -> Hashable:
    """The default key: the task id (statistics per task)."""
    return task.id


def difficulty_key(task: Task) -> Hashable:
    """Bucket tasks by their whole difficulty dict (tasks that look equally hard share a key)."""
    return json.dumps(task.difficulty, sort_keys=True, default=str)


def _resolve_key(key: str | KeyFn | None) -> KeyFn:
    if key is None or key == "task":
        return task_key
    if key == "difficulty":
        return difficulty_key
    if callable(key):
        return key
    raise ConfigError(f"key must be 'task', 'difficulty' or a function of a Task, got {key!r}")


@dataclass
class KeyStats:
    """Outcomes seen for one key: the running totals and the last ``window`` scores."""

    count: int = 0
    total: float = 0.0
    recent: deque = field(default_factory=deque)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else math.nan

    def add(self, score: float, window: int) -> None:
        self.count += 1
        self.total += score
        self.recent.append(score)
        while len(self.recent) > window:
            self.recent.popleft()


class TaskSampler:
    """Base class of every curriculum: ``sample()`` a task, ``update(task, reward)`` with its score.

    Args:
        tasks: the task set to choose from (an env's ``task_set()``, a file, generated tasks).
        seed: seeds the sampler's own random generator (sampling is reproducible).
        key: how outcomes are pooled: ``"task"`` (per task id, default), ``"difficulty"`` (per
            identical difficulty dict) or a function ``Task -> hashable``.
        window: how many recent scores each key remembers (samplers that compare recent and
            older outcomes read ``KeyStats.recent``).

    Subclasses implement ``weights()`` (one non-negative number per key, in ``self.keys``
    order); ``sample()`` draws a key in proportion and a task uniformly within it. Samplers
    that need something else override ``sample`` itself.
    """

    name = "base"

    def __init__(self, tasks: Sequence[Task], seed: int = 0, key: str | KeyFn | None = None, window: int = 20):
        tasks = [Task.coerce(t) for t in tasks]
        if not tasks:
            raise ConfigError("a sampler needs at least one task; got an empty task list")
        if window < 2:
            raise ConfigError(f"window must be >= 2, got {window}")
        self.tasks = tasks
        self.key_fn = _resolve_key(key)
        self.window = int(window)
        self.rng = np.random.default_rng(seed)
        self.groups: dict[Hashable, list[Task]] = {}
        for t in tasks:
            self.groups.setdefault(self.key_fn(t), []).append(t)
        self.keys: list[Hashable] = list(self.groups)
        self.key_index: dict[Hashable, int] = {k: i for i, k in enumerate(self.keys)}
        self.stats: dict[Hashable, KeyStats] = {k: KeyStats() for k in self.keys}
        # the same totals as arrays in ``keys`` order, so weights are computed without a Python loop
        self.counts = np.zeros(len(self.keys))
        self.totals = np.zeros(len(self.keys))
        self.recent_sums = np.zeros(len(self.keys))
        self.recent_lens = np.zeros(len(self.keys))
        self.steps = 0

    # ----------------------------------------------------------------- the contract
    def sample(self) -> Task:
        """The next task to practise."""
        w = np.asarray(self.weights(), dtype=float)
        if w.shape != (len(self.keys),) or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ConfigError(f"{type(self).__name__}.weights() must give {len(self.keys)} finite non-negative numbers")
        total = w.sum()
        i = int(self.rng.integers(len(self.keys))) if total <= 0 else int(self.rng.choice(len(self.keys), p=w / total))
        group = self.groups[self.keys[i]]
        return group[int(self.rng.integers(len(group)))]

    def update(self, task: Task | dict[str, Any], reward: float) -> None:
        """Record the score of one episode on ``task``. NaN (a masked infrastructure error) is ignored."""
        reward = float(reward)
        if math.isnan(reward):
            return
        task = Task.coerce(task)
        key = self.key_fn(task)
        if key not in self.stats:  # a task from outside the set (a derived one): track it too
            self.groups.setdefault(key, []).append(task)
            self.key_index[key] = len(self.keys)
            self.keys.append(key)
            self.stats[key] = KeyStats()
            for name in ("counts", "totals", "recent_sums", "recent_lens"):
                setattr(self, name, np.append(getattr(self, name), 0.0))
        st = self.stats[key]
        st.add(reward, self.window)
        i = self.key_index[key]
        self.counts[i], self.totals[i] = st.count, st.total
        self.recent_sums[i], self.recent_lens[i] = sum(st.recent), len(st.recent)
        self.steps += 1
        self.on_update(key)

    def on_update(self, key: Hashable) -> None:
        """Hook: called after ``key`` got a new outcome (samplers keep cached statistics here)."""

    def weights(self) -> Sequence[float] | np.ndarray:
        """One sampling weight per key (``self.keys`` order); uniform here."""
        return np.ones(len(self.keys))

    def reseed(self, seed: int) -> None:
        """Restart the sampler's random generator (statistics are kept)."""
        self.rng = np.random.default_rng(seed)

    def observe_episode(self, task: Task, messages: Sequence[dict[str, Any]], reward: float) -> Task | None:
        """Hook: the finished episode's messages (ExIt derives new tasks here); nothing by default."""
        return None

    # ----------------------------------------------------------------- reporting
    def success_rates(self, prior: float = 0.5, strength: float = 1.0) -> np.ndarray:
        """Per-key success estimate, shrunk towards ``prior`` (unseen keys get the prior)."""
        return (self.totals + prior * strength) / (self.counts + strength)

    def summary(self) -> dict[str, Any]:
        """A small JSON-ready picture of the sampler's state (for logs and ``info``)."""
        seen = [k for k in self.keys if self.stats[k].count]
        return {
            "sampler": self.name,
            "updates": self.steps,
            "keys": len(self.keys),
            "keys_seen": len(seen),
        }
