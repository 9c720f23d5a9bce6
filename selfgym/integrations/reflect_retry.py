"""Reflect, Retry, Reward: train only the reflection that turned a failure into a success.

The recipe: a policy's first attempt at a task fails; it writes a short reflection on what
went wrong; it tries again with the reflection in context. When the retry succeeds, the
reflection earns reward 1 — and only the reflection's tokens are trained, because the
reflection is the completion the trainer sees. The retry is sampled but never trained.

In TRL terms:

1. ``failed_first_attempts(env_id, tasks, backend)`` runs first attempts and keeps the failures;
2. ``reflection_dataset(...)`` turns each failure into a prompt asking for a reflection (the
   task, the failed attempt, the env's feedback);
3. ``ReflectRetryReward(env_id, backend)`` is the reward function: for each reflection it asks
   the backend for the retry and returns the env's verdict on it (None when masked).

Pass a backend sharing the trainer's weights (``TransformersBackend(path, model=trainer.model,
tokenizer=...)``) so retries come from the policy being trained.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

from selfgym.integrations.trl import EnvReward, _make_env, completion_text, task_prompt
from selfgym.errors import require
from selfgym.llm.base import LLMBackend, SamplingParams
from selfgym.types import Task

REFLECT_PROMPT = (
    "Your answer above was wrong. Before trying again, reflect in two or three sentences: what "
    "was the mistake, and what will you do differently? Do not give the answer yet."
)
RETRY_PROMPT = "Now answer the original task again, using your reflection."


@dataclass
class FailedAttempt:
    """A first attempt that failed, with the env's feedback on it."""

    task: Task
    prompt: list[dict[str, str]]
    attempt: str
    feedback: str


def failed_first_attempts(env_id: str, tasks: Sequence[Task], backend: LLMBackend,
                          sampling: SamplingParams | None = None,
                          env_kwargs: dict[str, Any] | None = None) -> list[FailedAttempt]:
    """Sample one first attempt per task (one batched call) and keep those the env scores below 1."""
    sampling = sampling or SamplingParams(temperature=0.7, max_tokens=256)
    env = _make_env(env_id, env_kwargs)
    try:
        prompts = [task_prompt(env_id, t, env=env) for t in tasks]
        completions = backend.generate(prompts, sampling)
        failed = []
        for task, prompt, completion in zip(tasks, prompts, completions):
            env.reset(seed=0, options={"task": task.to_dict()})
            obs, reward, _, _, info = env.step(completion.text)
            if info.get("reward_valid") is False:
                continue  # an infrastructure error says nothing about the attempt
            if reward < 1.0:
                feedback = obs["text"] if isinstance(obs, dict) else str(obs)
                failed.append(FailedAttempt(task, prompt, completion.text, feedback))
        return failed
    finally:
        env.close()


def reflection_chat(failure: FailedAttempt) -> list[dict[str, str]]:
    """The prompt that asks for a reflection on one failure."""
    return failure.prompt + [
        {"role": "assistant", "content": failure.attempt},
        {"role": "user", "content": f"{failure.feedback}\n\n{REFLECT_PROMPT}"},
    ]


def reflection_dataset(failures: Sequence[FailedAttempt]):
    """A ``datasets.Dataset`` for GRPOTrainer: ``prompt`` asks for a reflection; ``task`` is JSON."""
    datasets = require("datasets", "trl", "building a reflection dataset")
    return datasets.Dataset.from_dict({
        "prompt": [reflection_chat(f) for f in failures],
        "task": [json.dumps(f.task.to_dict()) for f in failures],
    })


class ReflectRetryReward:
    """Reward a reflection by whether the retry it leads to succeeds.

    Args:
        env_id / env_kwargs: the env that judges the retry (one action on the task).
        backend: samples the retry (share the trainer's weights).
        sampling: sampling for the retry (greedy by default, so the reward reflects the
            reflection rather than sampling luck).
    """

    def __init__(self, env_id: str, backend: LLMBackend, env_kwargs: dict[str, Any] | None = None,
                 sampling: SamplingParams | None = None):
        self.scorer = EnvReward(env_id, env_kwargs)
        self.backend = backend
        self.sampling = sampling or SamplingParams(temperature=0.0, max_tokens=256)
        self.__name__ = "reflect_retry_" + self.scorer.__name__
        self.retries: list[str] = []

    def __call__(self, prompts: list[Any], completions: list[Any], task: list[str], **kwargs: Any) -> list[float | None]:
        chats = [list(p) + [{"role": "assistant", "content": completion_text(c)},
                            {"role": "user", "content": RETRY_PROMPT}]
                 for p, c in zip(prompts, completions)]
        retries = self.backend.generate(chats, self.sampling)
        self.retries = [r.text for r in retries]
        return [self.scorer.score(t, r.text) for t, r in zip(task, retries)]
