"""selfgym envs as TRL reward sources.

Two shapes, matching the two ways TRL's GRPOTrainer gets rewards:

- **Single-turn** (``reward_funcs``): ``task_dataset(env_id, n)`` builds a ``datasets.Dataset``
  whose rows hold the env's first prompt (chat format) and the task as JSON; ``EnvReward(env_id)``
  is a reward function that replays each completion as the env's one action and returns the
  env's reward. Use it for CodeTask's first attempt, Reasoning, Arithmetic.
- **Multi-turn** (``environment_factory``): ``selfgym.integrations.trl_envs.environment_class``
  generates, from an env's action set, a class whose typed public methods are the env's actions
  (TRL turns them into tools) and whose ``get_reward`` is the episode reward.

Infrastructure errors never become a 0: envs run with ``on_infra_error="mask"``, and a masked
reward is returned as ``None`` (reward functions) or NaN (``get_reward``), which TRL excludes
from the group baseline and gives no advantage.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import gymnasium as gym

import selfgym  # noqa: F401  (registers the ids)
from selfgym.errors import ConfigError, TaskError, require
from selfgym.types import Task


def _make_env(env_id: str, env_kwargs: dict[str, Any] | None) -> gym.Env:
    from selfgym.integrations.trl_envs import make_env

    return make_env(env_id, **dict(env_kwargs or {}))


def env_tasks(env_id: str, n: int, seed: int = 0, env_kwargs: dict[str, Any] | None = None) -> list[Task]:
    """``n`` tasks of ``env_id`` from its ``task_set(n, seed)``; when the set holds fewer distinct
    tasks, they repeat in order to make ``n`` rows."""
    env = _make_env(env_id, env_kwargs)
    try:
        tasks = list(env.unwrapped.task_set(n, seed))
    finally:
        env.close()
    if not tasks:
        raise ConfigError(f"{env_id} has no tasks to train on (task_set({n}, {seed}) is empty)")
    return [tasks[i % len(tasks)] for i in range(n)]


def task_prompt(env_id: str, task: Task, env_kwargs: dict[str, Any] | None = None, env: gym.Env | None = None) -> list[dict[str, str]]:
    """The chat an agent sees first on ``task`` (system message, if any, and the first observation)."""
    own = env is None
    env = env or _make_env(env_id, env_kwargs)
    try:
        _, info = env.reset(seed=0, options={"task": task.to_dict()})
        return [{"role": m["role"], "content": m["content"]} for m in info["messages"]]
    finally:
        if own:
            env.close()


def task_dataset(env_id: str, n: int, seed: int = 0, env_kwargs: dict[str, Any] | None = None, tasks: Sequence[Task] | None = None):
    """A ``datasets.Dataset`` for GRPOTrainer: columns ``prompt`` (chat), ``task`` (JSON), ``env_id``."""
    datasets = require("datasets", "trl", "building a training dataset")
    tasks = list(tasks) if tasks is not None else env_tasks(env_id, n, seed, env_kwargs)
    env = _make_env(env_id, env_kwargs)
    try:
        rows = {"prompt": [], "task": [], "env_id": []}
        for t in tasks:
            rows["prompt"].append(task_prompt(env_id, t, env=env))
            rows["task"].append(json.dumps(t.to_dict()))
            rows["env_id"].append(env_id)
    finally:
        env.close()
    return datasets.Dataset.from_dict(rows)


def completion_text(completion: Any) -> str:
    """The text of a TRL completion (a string, or a conversational list of messages)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        return "".join(m.get("content") or "" for m in completion if m.get("role", "assistant") == "assistant")
    if isinstance(completion, dict):
        return completion.get("content") or ""
    raise ConfigError(f"cannot read a completion of type {type(completion).__name__}")


class EnvReward:
    """A TRL reward function: each completion is the env's one action on the row's task.

    Args:
        env_id: a registered selfgym id.
        env_kwargs: extra ``gym.make`` kwargs (for CodeTask's first attempt: ``max_attempts=1``).
    Returns per completion the env's reward, or ``None`` when verification hit an
    infrastructure error (TRL then leaves that sample out).

    ``stats`` counts calls, masked rewards and the mean reward, for logs and tests.
    """

    def __init__(self, env_id: str, env_kwargs: dict[str, Any] | None = None):
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs or {})
        self.__name__ = "selfgym_" + env_id.split("/")[-1].replace("-", "_")
        self._env: gym.Env | None = None
        self.stats = {"calls": 0, "scored": 0, "masked": 0, "reward_sum": 0.0}

    def _get_env(self) -> gym.Env:
        if self._env is None:
            self._env = _make_env(self.env_id, self.env_kwargs)
        return self._env

    def score(self, task: Task | dict | str, text: str) -> float | None:
        """The reward of one answer on one task (None when masked)."""
        if isinstance(task, str):
            try:
                task = json.loads(task)
            except json.JSONDecodeError as exc:
                raise TaskError(f"the row's task is not valid JSON ({exc.msg} at position {exc.pos})") from None
        env = self._get_env()
        env.reset(seed=0, options={"task": task})
        _, reward, _, _, info = env.step(text)
        self.stats["calls"] += 1
        if info.get("reward_valid") is False or (isinstance(reward, float) and math.isnan(reward)):
            self.stats["masked"] += 1
            return None
        self.stats["scored"] += 1
        self.stats["reward_sum"] += float(reward)
        return float(reward)

    def __call__(self, prompts: list[Any], completions: list[Any], task: list[str], **kwargs: Any) -> list[float | None]:
        return [self.score(t, completion_text(c)) for t, c in zip(task, completions)]

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = None


def ensure_tool_template(tokenizer):
    """Give ``tokenizer`` a tool-calling chat template when its own cannot render tool calls.

    TRL's ``environment_factory`` needs a template that renders ``tool_calls`` and tool messages
    and that TRL knows how to parse back. The default model (SmolLM2) speaks ChatML without
    tools; TRL's bundled Qwen2.5 template is ChatML with ``<tool_call>`` blocks, so it fits the
    same special tokens. Returns the tokenizer (changed only when needed).
    """
    from pathlib import Path

    trl = require("trl", "trl", "tool-calling training")
    from trl.chat_template_utils import supports_tool_calling

    if not supports_tool_calling(tokenizer):
        tokenizer.chat_template = (Path(trl.__file__).parent / "chat_templates" / "qwen2_5.jinja").read_text()
    return tokenizer
