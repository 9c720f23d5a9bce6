"""Attribute levelling: practise one difficulty level until it is mastered, then move up.

Tasks are ordered by one numeric difficulty attribute (``Task.difficulty[attribute]``). The
sampler serves the current level; once the last ``window`` scores at that level average at
least ``threshold`` (and at least ``min_episodes`` were played there) it raises the level. With
``lower`` set it also steps down when the level proves too hard. A ``replay`` fraction of
episodes revisits easier levels so they are not forgotten.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from selfgym.curricula.base import TaskSampler
from selfgym.errors import ConfigError
from selfgym.types import Task


class AttributeKey:
    """A picklable key function: one difficulty attribute as a float."""

    def __init__(self, attribute: str):
        self.attribute = attribute

    def __call__(self, task: Task) -> float:
        return float(task.difficulty[self.attribute])


class LevelSampler(TaskSampler):
    """Raise a difficulty attribute's level when success at the current level passes a threshold.

    Args:
        tasks: the task set; every task must carry ``difficulty[attribute]`` as a number.
        attribute: the difficulty attribute to level on (``"level"`` by default).
        threshold: success needed at the current level to move up, in (0, 1].
        lower: success below which the level steps down (None: never down).
        min_episodes: episodes at a level before it may change.
        replay: probability of an episode on an easier, already passed level.
        start: the level to start from (default: the lowest present).
    """

    name = "levels"

    def __init__(self, tasks, seed: int = 0, attribute: str = "level", threshold: float = 0.8,
                 lower: float | None = None, min_episodes: int = 10, window: int = 20,
                 replay: float = 0.1, start: float | None = None):
        tasks = [Task.coerce(t) for t in tasks]
        missing = [t.id for t in tasks if not isinstance(t.difficulty.get(attribute), (int, float))]
        if missing:
            raise ConfigError(f"LevelSampler needs a numeric difficulty[{attribute!r}] on every task; "
                              f"{len(missing)} lack it (first: {missing[0]!r})")
        if not 0 < threshold <= 1 or (lower is not None and not 0 <= lower < threshold):
            raise ConfigError(f"need 0 < threshold <= 1 and 0 <= lower < threshold; got threshold={threshold}, lower={lower}")
        if not 1 <= min_episodes <= window:
            raise ConfigError(f"min_episodes must be in 1..window ({window}), got {min_episodes}")
        if not 0 <= replay < 1:
            raise ConfigError(f"replay must be in [0, 1), got {replay}")
        self.attribute = attribute
        super().__init__(tasks, seed=seed, key=AttributeKey(attribute), window=window)
        self.levels = sorted(self.keys)
        self.threshold, self.lower = float(threshold), lower
        self.min_episodes, self.replay = int(min_episodes), float(replay)
        self.index = 0 if start is None else self._index_of(start)
        self._at_level: list[float] = []  # scores at the current level since it was entered
        self.history: list[tuple[int, float]] = []  # (update number, level entered)

    def _index_of(self, level: float) -> int:
        if float(level) not in self.levels:
            raise ConfigError(f"start level {level!r} is not among the task set's levels {self.levels}")
        return self.levels.index(float(level))

    @property
    def level(self) -> float:
        """The level being practised now."""
        return self.levels[self.index]

    def sample(self) -> Task:
        index = self.index
        if index > 0 and self.rng.random() < self.replay:
            index = int(self.rng.integers(index))
        group = self.groups[self.levels[index]]
        return group[int(self.rng.integers(len(group)))]

    def update(self, task, reward: float) -> None:
        super().update(task, reward)
        task = Task.coerce(task)
        if float(task.difficulty.get(self.attribute, np.nan)) != self.level or np.isnan(float(reward)):
            return
        self._at_level.append(float(reward))
        recent = self._at_level[-self.window:]
        if len(recent) < self.min_episodes:
            return
        rate = float(np.mean(recent))
        if rate >= self.threshold and self.index < len(self.levels) - 1:
            self._move(+1)
        elif self.lower is not None and rate < self.lower and self.index > 0:
            self._move(-1)

    def _move(self, step: int) -> None:
        self.index += step
        self._at_level = []
        self.history.append((self.steps, self.level))

    def summary(self) -> dict[str, Any]:
        return {**super().summary(), "attribute": self.attribute, "level": self.level}
