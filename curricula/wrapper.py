"""CurriculumWrapper: let a TaskSampler choose every episode's task, on any family.

The wrapper relies on one contract every selfgym env keeps: ``reset(options={"task": task})``
plays that task. On each reset without an explicit task it asks the sampler for one; when the
episode ends it scores the episode and calls ``sampler.update(task, score)``. Samplers that grow
new tasks from episodes (``ExItSampler``) also get ``observe_episode(task, messages, score)``.

A masked infrastructure error (NaN reward, ``info["reward_valid"] is False``) is never reported
to the sampler as a score.

Under gymnasium's vector envs each copy of the env holds its own wrapper and sampler; passing
``seed`` to the vector ``reset`` reseeds each copy's sampler differently, so the copies do not
all replay the same sequence.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym

from selfgym.curricula.base import TaskSampler
from selfgym.curricula.exit import improvement_reward
from selfgym.errors import ConfigError
from selfgym.types import Task

SCORES = ("auto", "return", "success", "verdict")


class CurriculumWrapper(gym.Wrapper):
    """Choose each episode's task with ``sampler`` and feed the episode's score back to it.

    Args:
        env: any selfgym env (a ``gym.make`` result or a bare env).
        sampler: a ``TaskSampler``.
        score: how an episode is scored for the sampler: ``"verdict"`` (the final verdict's
            reward), ``"success"`` (1 if the final verdict passed, else 0), ``"return"`` (the
            sum of rewards), or ``"auto"`` (the verdict's reward where there is one, else the
            return).

    ``info["curriculum"]`` on reset names the sampler and the task; on the last step of an
    episode ``info["curriculum_score"]`` is what the sampler was told, and on ExIt-derived tasks
    ``info["improvement_reward"]`` is ``max(0, (r - r_prev) / (1 - r_prev))``.
    """

    def __init__(self, env: gym.Env, sampler: TaskSampler, score: str = "auto"):
        super().__init__(env)
        if score not in SCORES:
            raise ConfigError(f"score must be one of {SCORES}, got {score!r}")
        if not hasattr(sampler, "sample") or not hasattr(sampler, "update"):
            raise ConfigError(f"sampler must have sample() and update(task, reward); got {type(sampler).__name__}")
        self.sampler = sampler
        self.score_mode = score
        self.task: Task | None = None
        self._return = 0.0
        self._valid = True
        self._open = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None and hasattr(self.sampler, "reseed"):
            self.sampler.reseed(seed)
        options = dict(options or {})
        task = Task.coerce(options["task"]) if options.get("task") is not None else Task.coerce(self.sampler.sample())
        options["task"] = task
        self.task, self._return, self._valid, self._open = task, 0.0, True, True
        obs, info = self.env.reset(seed=seed, options=options)
        info = dict(info)
        info["curriculum"] = {"sampler": getattr(self.sampler, "name", type(self.sampler).__name__), "task_id": task.id}
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        if not self._open:
            return obs, reward, terminated, truncated, info
        if math.isnan(float(reward)) or info.get("reward_valid") is False:
            self._valid = False
        else:
            self._return += float(reward)
        if terminated or truncated:
            self._open = False
            info = dict(info)
            score = self._score(info) if self._valid else math.nan
            info["curriculum_score"] = score
            self.sampler.update(self.task, score)
            observe = getattr(self.sampler, "observe_episode", None)
            if observe is not None and self._valid:
                observe(self.task, info.get("messages", []), score)
            r_prev = self.task.metadata.get("exit", {}).get("r_prev")
            if r_prev is not None and self._valid:
                info["improvement_reward"] = improvement_reward(score, float(r_prev))
        return obs, reward, terminated, truncated, info

    def _score(self, info: dict[str, Any]) -> float:
        verdict = info.get("verdict")
        if self.score_mode == "return" or (self.score_mode == "auto" and not isinstance(verdict, dict)):
            return self._return
        if not isinstance(verdict, dict):
            raise ConfigError(f"score={self.score_mode!r} needs info['verdict'] on the last step; this env gives none. "
                              "Use score='return'.")
        if self.score_mode == "success":
            return 1.0 if verdict.get("passed") else 0.0
        return float(verdict.get("reward", 0.0))


def task_set_of(env: gym.Env, n: int | None = None, seed: int = 0) -> list[Task]:
    """The task list an env offers through its ``task_set(n, seed)`` method (see the env contract)."""
    base = env.unwrapped
    fn = getattr(base, "task_set", None)
    if fn is None:
        raise ConfigError(f"{type(base).__name__} has no task_set(n, seed); pass the sampler a task list yourself")
    return list(fn(n=n, seed=seed))
