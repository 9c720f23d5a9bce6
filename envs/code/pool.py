"""TaskPool: the live, growing set of validated tasks that joins the challenger to the solver.

``CodeChallenge-v0`` adds every valid proposal to a pool; ``CodeTask-v0(source=pool)`` draws
its episodes from the same pool, so tasks written a moment ago are practised at once. The pool
is thread-safe, removes duplicates by content (``taskformat.fingerprint``), may be bounded
(oldest out first), keeps per-task solve statistics, and saves to / loads from CaT JSON lines.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Iterable

import numpy as np

from selfgym.errors import ConfigError, TaskError
from selfgym.types import Task, dump_jsonl

from selfgym.envs.code.taskformat import fingerprint, from_task, load_cat


class TaskPool:
    """A thread-safe, de-duplicated, optionally bounded collection of code tasks.

    Args:
        tasks: tasks to start with.
        max_size: keep at most this many (the oldest are dropped first); None for no bound.
    """

    def __init__(self, tasks: Iterable[Task] = (), max_size: int | None = None):
        if max_size is not None and max_size < 1:
            raise ConfigError(f"max_size must be >= 1 or None, got {max_size!r}")
        self.max_size = max_size
        self._lock = threading.Lock()
        self._tasks: OrderedDict[str, Task] = OrderedDict()
        self._prints: dict[str, str] = {}
        self._stats: dict[str, list[float]] = {}
        for t in tasks:
            self.add(t)

    # ------------------------------------------------------------------ contents
    def add(self, task: Task) -> bool:
        """Add a task; False (and nothing changes) when its id or content is already here."""
        if task.family != "code":
            raise TaskError(f"a TaskPool holds code tasks, got family {task.family!r}")
        fp = fingerprint(task)
        with self._lock:
            if task.id in self._tasks or fp in self._prints.values():
                return False
            self._tasks[task.id] = task
            self._prints[task.id] = fp
            while self.max_size is not None and len(self._tasks) > self.max_size:
                old, _ = self._tasks.popitem(last=False)
                self._prints.pop(old, None)
                self._stats.pop(old, None)
            return True

    def contains_content(self, task: Task) -> str | None:
        """The id of a pooled task with the same content as ``task``, or None."""
        fp = fingerprint(task)
        with self._lock:
            return next((tid for tid, p in self._prints.items() if p == fp), None)

    def tasks(self) -> list[Task]:
        """A snapshot of the pooled tasks, oldest first."""
        with self._lock:
            return list(self._tasks.values())

    def get(self, task_id: str) -> Task:
        with self._lock:
            try:
                return self._tasks[task_id]
            except KeyError:
                raise TaskError(f"no task {task_id!r} in the pool ({len(self._tasks)} tasks)") from None

    def sample(self, rng: np.random.Generator) -> Task:
        """A uniformly random pooled task; TaskError when the pool is empty."""
        with self._lock:
            if not self._tasks:
                raise TaskError("the task pool is empty: add tasks (for example through CodeChallenge-v0) "
                                "or pass reset(options={'task': ...})")
            ids = list(self._tasks)
            return self._tasks[ids[int(rng.integers(len(ids)))]]

    def __len__(self) -> int:
        with self._lock:
            return len(self._tasks)

    def __contains__(self, task_id: object) -> bool:
        with self._lock:
            return task_id in self._tasks

    # ------------------------------------------------------------------ solve statistics
    def record(self, task_id: str, reward: float) -> None:
        """Remember one solve attempt's reward for a pooled task (ignored for unknown ids)."""
        with self._lock:
            if task_id in self._tasks:
                self._stats.setdefault(task_id, []).append(float(reward))

    def pass_rate(self, task_id: str) -> float | None:
        """Mean recorded reward of a task, or None before any attempt."""
        with self._lock:
            rewards = self._stats.get(task_id)
            return sum(rewards) / len(rewards) if rewards else None

    # ------------------------------------------------------------------ files and pickling
    def save(self, path: str) -> int:
        """Write the pool as CaT JSON lines; returns the number written."""
        return dump_jsonl((from_task(t) for t in self.tasks()), path)

    @classmethod
    def load(cls, path: str, max_size: int | None = None) -> "TaskPool":
        return cls(load_cat(path), max_size=max_size)

    def __getstate__(self):
        with self._lock:
            return {"max_size": self.max_size, "tasks": list(self._tasks.values()), "stats": dict(self._stats)}

    def __setstate__(self, state):
        self.__init__(state["tasks"], state["max_size"])
        self._stats = dict(state["stats"])
