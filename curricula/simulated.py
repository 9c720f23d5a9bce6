"""A simulated learner, for comparing curricula in seconds without an LLM.

The world: tasks belong to ``topics``; each task needs a hidden skill (its ``requirement``) in
its topic. The learner holds one skill per topic. An attempt succeeds with probability
``sigmoid((skill - requirement) / temperature)``: success is drawn from the gap. A *successful*
attempt is practice that counts (as in rejection-sampling fine-tuning, only correct samples
teach): the topic's skill moves a fraction ``learning_rate`` of the way towards
``requirement + margin``, so returns diminish as skill approaches what the task can teach, and
a task far below the learner's skill teaches nothing. Every step, topics not practised lose
``forgetting`` of their skill above the starting level.

Consequences a curriculum has to cope with: too-hard tasks are almost never solved and teach
nothing; easy tasks are solved and teach nothing; the frontier moves as the learner improves.
``simulated_tasks`` builds such a task set, with a chosen fraction of tasks out of reach.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from selfgym.errors import ConfigError
from selfgym.types import Task


@dataclass
class LearnerConfig:
    """How the simulated learner learns."""

    learning_rate: float = 0.3
    """fraction of the way from skill to requirement + margin one successful attempt covers"""
    margin: float = 0.75
    """how far above its own requirement a task can lift skill"""
    forgetting: float = 0.001
    """fraction of skill above the start lost per step by each topic not practised"""
    temperature: float = 0.4
    """how sharply success falls with the gap between requirement and skill"""
    initial_skill: float = 0.5
    """every topic's skill at the start"""


def simulated_tasks(n_tasks: int = 200, topics: int = 4, levels: int = 8, too_hard_fraction: float = 0.5,
                    seed: int = 0) -> list[Task]:
    """A task set for the simulated learner.

    Learnable tasks spread evenly over levels ``0..levels-1`` (requirement = level plus a little
    noise); a ``too_hard_fraction`` of tasks need ``levels + 6`` or more, which no stepping
    stone reaches. ``difficulty`` carries ``level`` and ``topic``; the exact requirement stays hidden
    in the payload.
    """
    if n_tasks < 1 or topics < 1 or levels < 1 or not 0 <= too_hard_fraction < 1:
        raise ConfigError("need n_tasks >= 1, topics >= 1, levels >= 1 and 0 <= too_hard_fraction < 1")
    rng = np.random.default_rng(seed)
    n_hard = int(round(n_tasks * too_hard_fraction))
    tasks = []
    for i in range(n_tasks):
        topic = int(rng.integers(topics))
        level = levels + 6 + int(rng.integers(4)) if i < n_hard else i % levels
        requirement = round(float(level + rng.uniform(-0.2, 0.2)), 3)
        tasks.append(Task(
            id=f"sim/{i:04d}", family="simulated", prompt=f"Simulated task {i} (topic {topic}, level {level}).",
            payload={"topic": topic, "requirement": requirement},
            difficulty={"level": level, "topic": topic}, source="generated",
        ))
    order = rng.permutation(n_tasks)
    return [tasks[i] for i in order]


class SimulatedLearner:
    """One skill per topic; attempts succeed by the skill gap; success is practice (see module doc)."""

    def __init__(self, topics: int, config: LearnerConfig | None = None, seed: int = 0):
        self.config = config or LearnerConfig()
        self.skill = np.full(int(topics), float(self.config.initial_skill))
        self.rng = np.random.default_rng(seed)
        self.attempts = 0

    def success_prob(self, task: Task) -> float:
        """Probability that the learner, as it is now, solves ``task``."""
        gap = self.skill[int(task.payload["topic"])] - float(task.payload["requirement"])
        return float(1.0 / (1.0 + np.exp(-gap / self.config.temperature)))

    def attempt(self, task: Task) -> float:
        """Try ``task`` once: 1.0 on success, else 0.0; learning and forgetting happen here."""
        c = self.config
        topic = int(task.payload["topic"])
        success = self.rng.random() < self.success_prob(task)
        others = np.arange(len(self.skill)) != topic
        self.skill[others] -= c.forgetting * (self.skill[others] - c.initial_skill)
        if success:
            target = float(task.payload["requirement"]) + c.margin
            self.skill[topic] += c.learning_rate * max(0.0, target - self.skill[topic])
        self.attempts += 1
        return 1.0 if success else 0.0

    def mean_success(self, tasks: list[Task]) -> float:
        """Expected success over ``tasks`` (the evaluation: no sampling noise)."""
        return float(np.mean([self.success_prob(t) for t in tasks]))
