"""``selfgym report RUN_DIR``: PNG plots from a run's ``episodes.jsonl`` (needs matplotlib).

Writes, next to the trajectories:

- ``reward_by_episode.png``: each env's episode rewards in the order they finished, with a
  running mean;
- ``reward_by_trial.png``: mean reward at trial 1, 2, ... (does retrying, e.g. reflection, help?);
- ``success_by_task.png``: success rate per task id (the 30 most played tasks).
"""

from __future__ import annotations

import math
import os
from collections import defaultdict

from selfgym.errors import ConfigError, require
from selfgym.rollout import load_episodes


def write_report(run_dir: str) -> list[str]:
    """Write the three plots into ``run_dir``; returns their paths."""
    path = os.path.join(run_dir, "episodes.jsonl")
    if not os.path.isfile(path):
        raise ConfigError(f"{run_dir} has no episodes.jsonl; make one with: selfgym run ENV_ID --out {run_dir}")
    require("matplotlib", "plots", "selfgym report")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    episodes = load_episodes(path)
    written = []

    by_env = defaultdict(list)
    for e in episodes:
        by_env[e.env_id].append(e.total_reward)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for env_id, rewards in by_env.items():
        xs = list(range(1, len(rewards) + 1))
        (line,) = ax.plot(xs, rewards, ".", alpha=0.5)
        run, total, count = [], 0.0, 0
        for r in rewards:
            if not math.isnan(r):
                total, count = total + r, count + 1
            run.append(total / count if count else math.nan)
        ax.plot(xs, run, "-", color=line.get_color(), label=env_id)
    ax.set(xlabel="episode", ylabel="reward", title="Reward by episode (dots) and running mean")
    ax.legend(fontsize=7)
    written.append(_save(fig, run_dir, "reward_by_episode.png", plt))

    by_trial = defaultdict(list)
    for e in episodes:
        if not math.isnan(e.total_reward):
            by_trial[int(e.metadata.get("trial", 1))].append(e.total_reward)
    fig, ax = plt.subplots(figsize=(6, 4))
    trials = sorted(by_trial)
    ax.bar([str(t) for t in trials], [sum(by_trial[t]) / len(by_trial[t]) for t in trials])
    for t in trials:
        ax.annotate(f"n={len(by_trial[t])}", (trials.index(t), 0), ha="center", va="bottom", fontsize=8)
    ax.set(xlabel="trial", ylabel="mean reward", title="Reward by trial")
    written.append(_save(fig, run_dir, "reward_by_trial.png", plt))

    by_task = defaultdict(list)
    for e in episodes:
        by_task[str(e.task_id)].append(e.success)
    top = sorted(by_task, key=lambda t: -len(by_task[t]))[:30]
    fig, ax = plt.subplots(figsize=(8, max(3, 0.3 * len(top) + 1)))
    ax.barh([t[:50] for t in top], [sum(by_task[t]) / len(by_task[t]) for t in top])
    ax.set(xlabel="success rate", xlim=(0, 1), title="Success by task")
    ax.tick_params(axis="y", labelsize=7)
    written.append(_save(fig, run_dir, "success_by_task.png", plt))
    return written


def _save(fig, run_dir: str, name: str, plt) -> str:
    out = os.path.join(run_dir, name)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
