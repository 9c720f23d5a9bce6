"""Simulated web tasks: importing this package registers every task class in ``TASKS``."""

from selfgym.envs.web.tasks import basic, email, forms, navigation  # noqa: F401
from selfgym.envs.web.tasks.base import TASKS, SimTask, make_task, run_oracle

__all__ = ["TASKS", "SimTask", "make_task", "run_oracle"]
