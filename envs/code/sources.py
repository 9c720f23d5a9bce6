"""Where CodeTask-v0 gets its tasks: the bundled set, HumanEval, a JSONL file, a list, or a live pool."""

from __future__ import annotations

import functools
import os
from typing import Any

from selfgym.errors import ConfigError
from selfgym.types import Task

from selfgym.envs.code.pool import TaskPool
from selfgym.envs.code.taskformat import load_cat, to_task

BUNDLED_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "tasks.jsonl")
NAMED_SOURCES = ("bundled", "humaneval")


@functools.lru_cache(maxsize=1)
def _bundled() -> tuple[Task, ...]:
    return tuple(load_cat(BUNDLED_PATH))


def load_bundled() -> list[Task]:
    """The bundled original CaT tasks (64 over four levels and six topics)."""
    return list(_bundled())


def resolve_source(source: Any) -> list[Task] | TaskPool:
    """Turn a ``source`` option into a fixed task list or a live TaskPool.

    Accepts ``"bundled"``, ``"humaneval"``, a path to a ``.jsonl`` file of CaT records, a
    TaskPool (used live), or a list of Tasks / CaT records.
    """
    if isinstance(source, TaskPool):
        return source
    if isinstance(source, str):
        if source == "bundled":
            return load_bundled()
        if source == "humaneval":
            from selfgym.envs.code.humaneval import load_humaneval

            return list(load_humaneval())
        if os.path.exists(source):
            return load_cat(source)
        raise ConfigError(f"source must be one of {NAMED_SOURCES}, a path to a .jsonl file, a TaskPool or a "
                          f"list of tasks; {source!r} is none of these (no such file)")
    if isinstance(source, (list, tuple)):
        tasks = [t if isinstance(t, Task) else to_task(t) for t in source]
        if not tasks:
            raise ConfigError("source is an empty list of tasks")
        return tasks
    raise ConfigError(f"source must be a name, a path, a TaskPool or a list of tasks, got {type(source).__name__}")
