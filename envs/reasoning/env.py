"""``selfgym/Reasoning-v0`` (reasoning-gym's datasets) and ``selfgym/Integration-v0`` (sympy-checked).

Both are single-question envs: the observation is the problem, the action is free text with
the answer inside ``<answer></answer>``, and the verifier's score is the reward. A wrong answer
with attempts left gets feedback and another try.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from selfgym.actions import ActionSet
from selfgym.envs.reasoning import bridge
from selfgym.envs.reasoning import integration as calculus
from selfgym.errors import ConfigError, TaskError
from selfgym.quoting import inline
from selfgym.textenv import Outcome, TextEnv
from selfgym.types import CheckResult, Status, Task, Verdict


def submit_answer(answer: str) -> str:
    """Give your final answer to the problem.

    Args:
        answer: the answer alone, in the form the problem asks for.
    """
    return f"<answer>{answer}</answer>"


ACTIONS = ActionSet.text([submit_answer], help_text="Or write free text with the answer inside <answer></answer>.")


class _AnswerEnv(TextEnv):
    """Shared episode logic: up to ``max_attempts`` answers, the verdict ends the episode."""

    def action_set(self) -> ActionSet:
        return ACTIONS

    def __init__(self, max_attempts: int = 1, **kwargs: Any):
        super().__init__(max_observation_length=8192, max_action_length=8192, **kwargs)
        if int(max_attempts) < 1:
            raise ConfigError(f"max_attempts must be >= 1, got {max_attempts!r}")
        self.max_attempts = int(max_attempts)
        self.attempts = 0

    def begin(self, task: Task) -> str:
        if task.family != self.family:
            raise TaskError(f"{type(self).__name__} needs a {self.family!r} task, got family {task.family!r} ({task.id})")
        self.attempts = 0
        return task.prompt

    def judge(self, action: str) -> tuple[Verdict, str | None]:
        raise NotImplementedError

    def act(self, action: str) -> Outcome:
        self.attempts += 1
        verdict, error = self.judge(action)
        why = inline(verdict.error, 300)  # may quote the answer or a scorer's message: one line, no controls
        if verdict.passed or verdict.is_infra_error or self.attempts >= self.max_attempts:
            msg = "Correct." if verdict.passed else f"Not accepted: {why}."
            return Outcome(msg, terminated=True, verdict=verdict, action_error=error)
        left = self.max_attempts - self.attempts
        return Outcome(f"Not accepted: {why}. Try again; {left} attempt(s) left.", reward=0.0, action_error=error)


class ReasoningEnv(_AnswerEnv):
    """reasoning-gym's procedural datasets, scored by their own scorers.

    Args:
        dataset: a reasoning-gym dataset name, or a list to draw from (default ``"basic_arithmetic"``;
            ``"countdown"`` is a favourite, but its generator needs 0.05-2 s per task).
        level: curriculum level for every task (None: drawn per episode from 0..the dataset's top).
        config: dataset configuration overrides (reasoning-gym's config fields, seed and size aside)
            for the datasets named here; an episode's ``options={"dataset": ...}`` naming another
            dataset does not inherit it (pass that episode's ``options["config"]`` instead).
        max_attempts: answers allowed per episode.
        on_infra_error: ``"raise"`` (default) or ``"mask"`` for a scorer that crashes.
    ``reset(options=...)`` also takes ``"dataset"``, ``"level"`` and ``"config"`` for one episode,
    and ``"task"`` as every env does.
    Observation: the question. Action: text, answer in ``<answer></answer>`` (else the whole text).
    Reward: the scorer's value in [0, 1] on the terminal step.
    """

    family = "reasoning"
    system_prompt = "You solve reasoning problems. Think briefly, then give the final answer inside <answer></answer>."

    def __init__(self, dataset: str | Sequence[str] = "basic_arithmetic", level: int | None = None,
                 config: dict[str, Any] | None = None, max_attempts: int = 1, **kwargs: Any):
        super().__init__(max_attempts=max_attempts, **kwargs)
        self.datasets = [dataset] if isinstance(dataset, str) else list(dataset)
        if not self.datasets:
            raise ConfigError("dataset must name at least one reasoning-gym dataset")
        for name in self.datasets:
            bridge.check_dataset(name)
        if level is not None and int(level) < 0:
            raise ConfigError(f"level must be >= 0 or None, got {level!r}")
        self.level = None if level is None else int(level)
        self.config = dict(config or {})
        self._episode_options: dict[str, Any] = {}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        self._episode_options = {k: v for k, v in (options or {}).items() if k in ("dataset", "level", "config")}
        if "dataset" in self._episode_options:
            bridge.check_dataset(self._episode_options["dataset"])
        return super().reset(seed=seed, options=options)

    def sample_task(self, rng: np.random.Generator) -> Task:
        opts = self._episode_options
        name = opts.get("dataset") or self.datasets[int(rng.integers(len(self.datasets)))]
        level = opts.get("level", self.level)
        # the constructor's config was written for the constructor's datasets: an episode that
        # names another dataset gets only its own config (the fields differ between datasets)
        base = self.config if name in self.datasets else {}
        config = {**base, **opts.get("config", {})}
        seed, index = int(rng.integers(1_000_000)), int(rng.integers(bridge.BLOCK))
        if level is not None:
            return bridge.make_task(name, int(level), seed, index, config)
        drawn = int(rng.integers(bridge.max_level(name) + 1))
        for lvl in range(drawn, -1, -1):  # some generators fail at their top levels: step down
            try:
                return bridge.make_task(name, lvl, seed, index, config)
            except (TaskError, ConfigError):
                if lvl == 0:
                    raise
        raise AssertionError("unreachable")

    def judge(self, action: str) -> tuple[Verdict, str | None]:
        answer = bridge.extract_answer(action)
        if not answer:  # the agent's mistake: no need to ask the scorer
            error = "empty answer (put it inside <answer></answer>)"
            return Verdict(0.0, False, Status.TASK_FAILURE, [CheckResult("answer_present", False, error)], error=error), error
        return bridge.score(self.task, answer), None

    def task_set(self, n: int | None = None, seed: int = 0) -> list[Task]:
        """``n`` tasks (default 100), cycling over the datasets and, unless fixed, the levels."""
        n = 100 if n is None else int(n)
        tasks = []
        for i in range(n):
            name = self.datasets[i % len(self.datasets)]
            top = bridge.max_level(name)
            level = self.level if self.level is not None else (i // len(self.datasets)) % (top + 1)
            for lvl in range(level, -1, -1):
                try:
                    tasks.append(bridge.make_task(name, lvl, seed, i, self.config))
                    break
                except (TaskError, ConfigError):
                    if lvl == 0:
                        raise
        return tasks

    def cheat(self) -> str:
        """The oracle action for the current task (the reference answer)."""
        return bridge.cheat(self.task)

    def find_task(self, task_id: str) -> Task:
        """A task from its id (``reasoning/<dataset>/L<level>/s<seed>/<index>``, this env's config)."""
        parts = task_id.split("/")
        if len(parts) == 5 and parts[0] == "reasoning" and parts[2][1:].isdigit() and parts[3][1:].isdigit() \
                and parts[4].isdigit():
            bridge.check_dataset(parts[1])
            return bridge.make_task(parts[1], int(parts[2][1:]), int(parts[3][1:]), int(parts[4]), self.config)
        raise TaskError(f"{task_id!r} is not a reasoning task id (reasoning/<dataset>/L<level>/s<seed>/<index>)")


class IntegrationEnv(_AnswerEnv):
    """Find an antiderivative; sympy differentiates the answer and compares it with the integrand.

    Args:
        level: 1..5 (more terms; then chain rule, integration by parts, nested functions);
            None draws one per episode.
        max_attempts: answers allowed per episode.
    Observation: the integrand. Action: text with the antiderivative (SymPy syntax) inside
    ``<answer></answer>``. Reward: 1 when the answer's derivative matches, else 0.
    """

    family = "integration"
    system_prompt = "You integrate functions. Give the antiderivative in SymPy syntax inside <answer></answer>."

    def __init__(self, level: int | None = None, max_attempts: int = 1, **kwargs: Any):
        super().__init__(max_attempts=max_attempts, **kwargs)
        if level is not None and int(level) not in calculus.LEVELS:
            raise ConfigError(f"level must be one of {calculus.LEVELS} or None, got {level!r}")
        self.level = None if level is None else int(level)

    def sample_task(self, rng: np.random.Generator) -> Task:
        level = self.level if self.level is not None else int(rng.integers(1, 6))
        return calculus.generate(rng, level)

    def judge(self, action: str) -> tuple[Verdict, str | None]:
        return calculus.check(self.task, action)

    def task_set(self, n: int | None = None, seed: int = 0) -> list[Task]:
        """``n`` generated problems (default 50), levels cycling 1..5 unless fixed."""
        n = 50 if n is None else int(n)
        rng = np.random.default_rng(seed)
        return [calculus.generate(rng, self.level or calculus.LEVELS[i % 5]) for i in range(n)]

    def cheat(self) -> str:
        """The oracle action for the current task (the generator's antiderivative)."""
        return calculus.cheat(self.task)
