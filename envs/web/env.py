"""``selfgym/Web-<task>-v0``: simulated web tasks on a pure-Python page model (no browser).

The same observation, action and reward interface as the real MiniWoB++ backend
(``selfgym.envs.web.base``), about a thousand times faster, with a seeded generator and an
oracle for every task.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from selfgym.envs.web import tasks as _tasks  # noqa: F401  (registers every task class)
from selfgym.envs.web.actions import WebAction
from selfgym.envs.web.base import ActionFailed, WebEnvBase
from selfgym.envs.web.page import Page, PageActionError
from selfgym.envs.web.tasks.base import TASKS, make_task
from selfgym.errors import ConfigError, TaskError
from selfgym.types import Task


class SimWebEnv(WebEnvBase):
    """A simulated web task.

    Args:
        task: the task name (``"click-button"``...), or None to draw any task per episode.
        max_steps: override the task's step cap.
        reward: ``"binary"`` (1 on success, else 0) or ``"partial"`` (the task's partial credit).
        max_chars: the outline's character budget.
    ``reset(options={"task": Task | dict})`` plays any web task, whatever ``task`` says.
    """

    family = "web"
    replay_state = ("page",)  # the page model holds callbacks: pickling replays the episode

    def __init__(self, task: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if task is not None and task not in TASKS:
            raise ConfigError(f"unknown web task {task!r}; known: {sorted(TASKS)}")
        self.task_name = task
        self.page: Page | None = None
        self._cls = None

    # ------------------------------------------------------------------ tasks
    def sample_task(self, rng: np.random.Generator) -> Task:
        name = self.task_name or sorted(TASKS)[int(rng.integers(len(TASKS)))]
        return make_task(name, rng)

    def task_set(self, n: int | None = None, seed: int = 0) -> list[Task]:
        """``n`` (default 20) generated tasks of this env's task (of every task when it has none)."""
        rng = np.random.default_rng(seed)
        names = [self.task_name] if self.task_name else sorted(TASKS)
        count = 20 if n is None else int(n)
        return [make_task(names[i % len(names)], rng, index=i) for i in range(count)]

    def coerce_task(self, value: Any) -> Task:
        task = Task.coerce(value)
        if task.family != "web" or task.payload.get("task") not in TASKS:
            raise TaskError(f"SimWebEnv needs a web task whose payload names one of {sorted(TASKS)}; "
                            f"got family {task.family!r}, task {task.payload.get('task')!r}")
        return task

    # ------------------------------------------------------------------ backend hooks
    def _start(self, task: Task) -> int:
        self._cls = TASKS[task.payload["task"]]
        self.page = self._cls.build(task.payload)
        return self._cls.max_steps

    def _instruction(self) -> str:
        return self.task.payload["instruction"]

    def _nodes(self) -> list[dict[str, Any]]:
        return self.page.nodes()

    def _perform(self, action: WebAction) -> None:
        try:
            self.page.apply(action)
        except PageActionError as exc:
            self.page.steps += 1
            if self.page.on_tick and not self.page.done:
                self.page.on_tick(self.page)
            raise ActionFailed(str(exc)) from None

    def _outcome(self) -> tuple[bool, float, str]:
        return self.page.done, self.page.raw_reward, self.page.reason

    def _partial(self) -> float:
        return float(self._cls.partial(self.page, self.task.payload))

    def _take_user_reply(self) -> str | None:
        reply, self.page.user_reply = self.page.user_reply, None
        return reply

    # ------------------------------------------------------------------ oracle
    def cheat(self) -> str:
        """The oracle's next action for the page as it is now."""
        if self.page is None:
            raise ConfigError("call reset() before cheat()")
        return self._cls.cheat(self.page, self.task.payload)
