"""CodeTask-v0 throughput with the oracle policy on the warm sandbox pool.

Measures episodes per second for single-turn episodes whose answer is the task's example
solution (every episode is one full sandboxed verification), run serially and from a thread pool
of envs sharing the one warm sandbox, on the bundled tasks and on HumanEval. Reports medians
over repeats, and the same for the validator (tasks validated per second).

    python benchmarks/bench_codetask.py --episodes 64 --repeats 3 --threads 1 4
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from selfgym.envs.code.env import CodeTaskEnv
from selfgym.envs.code.validate import validate_many
from selfgym.verifiers import default_sandbox


def run_episodes(source: str, episodes: int, threads: int, sandbox) -> float:
    """Episodes per second with ``threads`` envs stepping in parallel."""
    envs = [CodeTaskEnv(source, sandbox=sandbox) for _ in range(threads)]

    def one(k: int) -> float:
        env = envs[k % threads]
        env.reset(seed=k)
        _, reward, terminated, _, _ = env.step(env.cheat())
        assert terminated and reward == 1.0, f"oracle failed on {env.task.id}"
        return reward

    start = time.perf_counter()
    if threads == 1:
        for k in range(episodes):
            one(k)
    else:
        # each thread owns the envs k with k % threads == its index, so no env is shared
        def lane(i: int) -> None:
            for k in range(i, episodes, threads):
                one(k)

        with ThreadPoolExecutor(threads) as ex:
            list(ex.map(lane, range(threads)))
    return episodes / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--episodes", type=int, default=64, help="episodes per measurement")
    ap.add_argument("--repeats", type=int, default=3, help="measurements per setting (median reported)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 4], help="parallel envs to try")
    ap.add_argument("--validate", type=int, default=16, help="bundled tasks to validate per measurement (0: skip)")
    args = ap.parse_args()
    sandbox = default_sandbox()
    print(f"sandbox: {type(sandbox).__name__}, python {platform.python_version()}, {time.strftime('%Y-%m-%d')}")
    run_episodes("bundled", 4, 1, sandbox)  # warm the pool
    base = None
    for source in ("bundled", "humaneval"):
        for threads in args.threads:
            rates = [run_episodes(source, args.episodes, threads, sandbox) for _ in range(args.repeats)]
            med = statistics.median(rates)
            base = base or med
            print(f"{source:9s} threads={threads}: median {med:6.2f} episodes/s "
                  f"(runs: {', '.join(f'{r:.2f}' for r in rates)}; x{med / base:.2f} of bundled serial)")
    if args.validate:
        from selfgym.envs.code.sources import load_bundled

        tasks = load_bundled()[: args.validate]
        rates = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            reports = validate_many(tasks, sandbox=sandbox, max_workers=4)
            assert all(r.valid for r in reports)
            rates.append(len(tasks) / (time.perf_counter() - t0))
        print(f"validator: median {statistics.median(rates):.2f} tasks/s "
              f"(5 sandbox runs per task; runs: {', '.join(f'{r:.2f}' for r in rates)})")


if __name__ == "__main__":
    main()
