"""Run samplers against the simulated learner and compare how fast each one teaches.

``compare(["uniform", "learning_progress"], steps=3000)`` plays every sampler for ``steps``
episodes on a fresh learner (per seed), measures the learner's expected success over the whole
task set every ``eval_every`` steps, and returns the curves with a summary per sampler: final
success, the area under the curve (mean success over the run) and the time taken.
``write_plot`` and ``format_table`` turn the result into a PNG and a Markdown table.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from selfgym.curricula.base import TaskSampler
from selfgym.curricula.exit import ExItSampler
from selfgym.curricula.levels import LevelSampler
from selfgym.curricula.samplers import HeadTailSampler, LearnabilitySampler, LearningProgressSampler, UniformSampler
from selfgym.curricula.simulated import LearnerConfig, SimulatedLearner, simulated_tasks
from selfgym.errors import ConfigError
from selfgym.types import Task

SAMPLERS: dict[str, Callable[..., TaskSampler]] = {
    "uniform": UniformSampler,
    "learnability": LearnabilitySampler,
    "success_band": functools.partial(LearnabilitySampler, band=(0.1, 0.9)),
    "learning_progress": LearningProgressSampler,
    "head_tail": HeadTailSampler,
    "levels": LevelSampler,
    "exit": ExItSampler,
}


# Samplers that pool outcomes by key do so per difficulty bucket in comparisons: a generated task
# set is too large for per-task statistics (see docs/CURRICULA.md).
# Levelling may also step down (below 10% success), or it would stall on an unreachable level.
DEFAULT_KWARGS: dict[str, dict[str, Any]] = {name: {"key": "difficulty"} for name in SAMPLERS if name != "levels"}
DEFAULT_KWARGS["levels"] = {"lower": 0.1}


def make_sampler(name: str, tasks: Sequence[Task], seed: int = 0, **kwargs: Any) -> TaskSampler:
    """Build a sampler by name (the keys of ``SAMPLERS``), with a message listing them when unknown."""
    if name not in SAMPLERS:
        raise ConfigError(f"unknown sampler {name!r}; choose from {sorted(SAMPLERS)}")
    return SAMPLERS[name](tasks, seed=seed, **kwargs)


@dataclass
class Comparison:
    """Curves and summaries from ``compare``: ``curves[name]`` has one row per seed."""

    steps: list[int]
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def final(self, name: str) -> float:
        """Mean over seeds of the last measured success."""
        return float(self.curves[name][:, -1].mean())

    def area(self, name: str) -> float:
        """Mean over seeds and measurements: success averaged over the whole run."""
        return float(self.curves[name].mean())

    def rows(self) -> list[dict[str, Any]]:
        return [{"sampler": n, "final_success": self.final(n), "mean_success": self.area(n),
                 "seconds": self.seconds[n]} for n in self.curves]


def run_one(sampler: TaskSampler, tasks: Sequence[Task], steps: int, eval_every: int,
            config: LearnerConfig | None = None, seed: int = 0) -> np.ndarray:
    """Train a fresh learner for ``steps`` episodes chosen by ``sampler``; return its success curve."""
    topics = 1 + max(int(t.payload["topic"]) for t in tasks)
    learner = SimulatedLearner(topics, config, seed=seed)
    curve = [learner.mean_success(list(tasks))]
    observe = getattr(sampler, "observe_episode", None)
    for step in range(1, steps + 1):
        task = sampler.sample()
        score = learner.attempt(task)
        sampler.update(task, score)
        if observe is not None:
            observe(task, [{"role": "assistant", "content": f"attempt {step}"}], score)
        if step % eval_every == 0:
            curve.append(learner.mean_success(list(tasks)))
    return np.array(curve)


def compare(samplers: Sequence[str], steps: int = 3000, seeds: Sequence[int] = (0, 1, 2), eval_every: int = 100,
            tasks: Sequence[Task] | None = None, config: LearnerConfig | None = None,
            sampler_kwargs: dict[str, dict[str, Any]] | None = None) -> Comparison:
    """Play each named sampler against the simulated learner, once per seed."""
    if steps < eval_every or eval_every < 1:
        raise ConfigError(f"need steps >= eval_every >= 1, got steps={steps}, eval_every={eval_every}")
    tasks = list(tasks) if tasks is not None else simulated_tasks()
    out = Comparison(steps=list(range(0, steps + 1, eval_every)))
    for name in samplers:
        start = time.perf_counter()
        kwargs = {**DEFAULT_KWARGS.get(name, {}), **(sampler_kwargs or {}).get(name, {})}
        rows = [run_one(make_sampler(name, tasks, seed=s, **kwargs),
                        tasks, steps, eval_every, config, seed=s) for s in seeds]
        out.seconds[name] = time.perf_counter() - start
        out.curves[name] = np.vstack(rows)
    return out


def format_table(result: Comparison) -> str:
    """A Markdown table: sampler, final success, mean success over the run, seconds."""
    lines = ["| sampler | final success | mean success | seconds |", "|---|---:|---:|---:|"]
    for r in sorted(result.rows(), key=lambda r: -r["mean_success"]):
        lines.append(f"| {r['sampler']} | {r['final_success']:.3f} | {r['mean_success']:.3f} | {r['seconds']:.2f} |")
    return "\n".join(lines)


def write_plot(result: Comparison, path: str, title: str = "Simulated learner: success over time") -> str:
    """Save success-over-time curves (mean over seeds, band = min..max) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for name, curves in result.curves.items():
        mean = curves.mean(axis=0)
        ax.plot(result.steps, mean, label=name)
        ax.fill_between(result.steps, curves.min(axis=0), curves.max(axis=0), alpha=0.15)
    ax.set_xlabel("episodes")
    ax.set_ylabel("expected success over the task set")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
