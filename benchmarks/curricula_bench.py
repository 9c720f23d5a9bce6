"""Curricula and reasoning speed: sampler overhead per episode, task generation and checking.

Run: python benchmarks/curricula_bench.py [--repeats 5]
Prints Markdown tables (medians over repeats) for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def _median_us(fn, n, repeats):
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(runs)


def bench_samplers(repeats: int) -> list[str]:
    from selfgym.curricula.compare import SAMPLERS, make_sampler
    from selfgym.curricula.simulated import simulated_tasks

    rows = ["| sampler | 48 buckets (us per sample+update) | 1,000 tasks, per task (us) | ratio |", "|---|---:|---:|---:|"]
    small = simulated_tasks(n_tasks=200, seed=0)
    large = simulated_tasks(n_tasks=1000, seed=0)
    rng = np.random.default_rng(0)
    for name in SAMPLERS:
        out = []
        for tasks, key in ((small, "difficulty"), (large, "task")):
            kwargs = {} if name == "levels" else {"key": key}
            s = make_sampler(name, tasks, seed=0, **kwargs)

            def step():
                t = s.sample()
                s.update(t, float(rng.random() < 0.5))

            for _ in range(200):
                step()
            out.append(_median_us(step, 500, repeats))
        rows.append(f"| {name} | {out[0]:.0f} | {out[1]:.0f} | {out[1] / out[0]:.1f}x |")
    return rows


def bench_reasoning(repeats: int) -> list[str]:
    import gymnasium as gym

    import selfgym  # noqa: F401
    from selfgym.envs.reasoning import bridge
    from selfgym.envs.reasoning import integration as calc

    rows = ["| operation | median (ms) |", "|---|---:|"]
    for name, level in (("basic_arithmetic", 2), ("chain_sum", 4), ("countdown", 0), ("countdown", 2)):
        bridge.make_task(name, level, seed=0, index=0)  # warm the dataset cache
        counter = iter(range(10**6))
        ms = _median_us(lambda: bridge.make_task(name, level, seed=0, index=next(counter)), 10, repeats) / 1000
        rows.append(f"| Reasoning task, {name} level {level} | {ms:.2f} |")
    env = gym.make("selfgym/Reasoning-v0", dataset="basic_arithmetic", level=1)
    seeds = iter(range(10**6))

    def episode():
        env.reset(seed=next(seeds))
        env.step(env.unwrapped.cheat())

    rows.append(f"| Reasoning-v0 episode (reset + scored step), basic_arithmetic | {_median_us(episode, 50, repeats) / 1000:.2f} |")
    rng = np.random.default_rng(0)
    for level in (1, 3, 5):
        tasks = [calc.generate(rng, level) for _ in range(10)]
        it = iter(tasks * 100)
        rows.append(f"| Integration task generation, level {level} | "
                    f"{_median_us(lambda: calc.generate(rng, level), 5, repeats) / 1000:.1f} |")
        rows.append(f"| Integration check (oracle answer), level {level} | "
                    f"{_median_us(lambda: calc.check((t := next(it)), calc.cheat(t)), 10, repeats) / 1000:.1f} |")
    return rows


def bench_compare() -> list[str]:
    from selfgym.curricula.compare import SAMPLERS, compare, format_table

    result = compare(list(SAMPLERS), steps=3000, seeds=(0, 1, 2), eval_every=100)
    return ["Simulated learner, 200 tasks (half out of reach), 3,000 episodes, 3 seeds:", "", format_table(result)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per figure (median reported)")
    args = parser.parse_args()
    for section in (bench_samplers(args.repeats), bench_reasoning(args.repeats), bench_compare()):
        print("\n".join(section), end="\n\n")


if __name__ == "__main__":
    main()
