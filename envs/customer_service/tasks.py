"""Choosing tasks: the finite task lists of each domain, from the tau2 data or a JSON-lines file."""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from selfgym.envs.customer_service.data import DOMAINS, FAMILY, load_domain_tasks
from selfgym.envs.customer_service.reward import is_no_change
from selfgym.errors import ConfigError, TaskError
from selfgym.types import Task, load_tasks


def check_task(task: Task) -> Task:
    """Raise TaskError unless ``task`` is a well-formed customer-service task."""
    if task.family != FAMILY:
        raise TaskError(f"a customer-service env needs a {FAMILY!r} task, got family {task.family!r}")
    p = task.payload
    missing = [k for k in ("domain", "scenario", "actions", "outputs") if k not in p]
    if missing:
        raise TaskError(f"task {task.id!r} lacks payload field(s) {missing}")
    if p["domain"] not in DOMAINS:
        raise TaskError(f"task {task.id!r} has unknown domain {p['domain']!r}; choose one of {list(DOMAINS)}")
    return task


def task_list(domain: str | None, tasks: Any = None, split: str | None = None,
              include_no_change: bool = False) -> list[Task]:
    """The tasks an env draws from.

    Args:
        domain: "retail" or "airline" (None: both, when ``tasks`` is None).
        tasks: None (the tau2 data), a path to a JSON-lines task file, or a list of Tasks/dicts.
        split: tau2's "train" or "test" split (None: all).
        include_no_change: keep tasks whose gold outcome is "change nothing, say nothing" (a
            policy that does nothing passes those; see ``reward.is_no_change``).
    """
    if tasks is None:
        if domain is not None and domain not in DOMAINS:
            raise ConfigError(f"domain must be one of {list(DOMAINS)} or None, got {domain!r}")
        out = [t for d in ([domain] if domain else DOMAINS) for t in load_domain_tasks(d, split)]
    elif isinstance(tasks, (str, os.PathLike)):
        out = [check_task(t) for t in load_tasks(tasks)]
    else:
        out = [check_task(Task.coerce(t)) for t in tasks]
    if tasks is not None and split is not None:
        out = [t for t in out if t.payload.get("split") == split]
    if not include_no_change:
        out = [t for t in out if not is_no_change(t)]
    if not out:
        raise ConfigError("no customer-service task is left to draw from (check domain, split and tasks)")
    return out


def pick(tasks: Sequence[Task], rng: np.random.Generator) -> Task:
    return tasks[int(rng.integers(len(tasks)))]


def sample(tasks: Sequence[Task], n: int | None, seed: int) -> list[Task]:
    """All tasks (``n=None``), or ``n`` of them in a seeded shuffled order (cycling past the end)."""
    if n is None:
        return list(tasks)
    if n < 0:
        raise ConfigError(f"n must be >= 0 or None, got {n!r}")
    order = np.random.default_rng(seed).permutation(len(tasks))
    return [tasks[int(order[i % len(tasks)])] for i in range(n)]
