"""Web navigation throughput: simulated pages against real MiniWoB++ pages in Chromium.

Usage: ``python benchmarks/bench_web.py [--rounds 5] [--sim-episodes 310] [--real-episodes 34]``

Each round plays, through ``gymnasium.make``, (1) the oracle on every simulated task, seeds
cycling, and (2) the observation-only scripted policies on the MiniWoB++ tasks they solve, in
one shared Chromium. Steps/s counts ``env.step`` calls (the policy's own time included, as an
agent loop would see it); episodes/s counts finished episodes (resets included). Prints the
medians over rounds and the simulated/real ratios as a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import gymnasium as gym

import selfgym  # noqa: F401
from selfgym.envs.miniwob.scripted import POLICIES
from selfgym.envs.web import SIM_TASKS


def run(env_ids_and_policies, episodes: int) -> tuple[float, float, float]:
    """Play ``episodes`` episodes round-robin over the (env, policy) pairs; (steps/s, episodes/s, success)."""
    steps = wins = 0
    start = time.perf_counter()
    for i in range(episodes):
        env, policy = env_ids_and_policies[i % len(env_ids_and_policies)]
        obs, info = env.reset(seed=1000 + i)
        while True:
            obs, reward, terminated, truncated, info = env.step(policy(env, obs))
            steps += 1
            if terminated or truncated:
                wins += reward == 1.0
                break
    elapsed = time.perf_counter() - start
    return steps / elapsed, episodes / elapsed, wins / episodes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="rounds; medians are reported")
    ap.add_argument("--sim-episodes", type=int, default=310, help="simulated episodes per round")
    ap.add_argument("--real-episodes", type=int, default=34, help="MiniWoB++ episodes per round")
    args = ap.parse_args()

    sim = [(gym.make(f"selfgym/Web-{n}-v0"), lambda env, obs: env.unwrapped.cheat()) for n in SIM_TASKS]
    real_env = gym.make("selfgym/MiniWoB-click-button-v0")
    real = []
    for name, policy in sorted(POLICIES.items()):
        env = gym.make(f"selfgym/MiniWoB-{name}-v0")
        real.append((env, lambda env, obs, p=policy: p(obs)))
    real_env.close()
    run(real[:3], 3)  # start the browser and warm the page pool outside the timing

    rows = {"sim": [], "real": []}
    for _ in range(args.rounds):
        rows["sim"].append(run(sim, args.sim_episodes))
        rows["real"].append(run(real, args.real_episodes))
    med = {k: [statistics.median(r[j] for r in v) for j in range(3)] for k, v in rows.items()}
    print(f"machine: {platform.system()} {platform.release()}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; rounds: {args.rounds}")
    print("| backend | tasks | episodes/round | steps/s | episodes/s | success |")
    print("|---|---|---|---|---|---|")
    print(f"| simulated (oracle) | {len(sim)} | {args.sim_episodes} | {med['sim'][0]:,.0f} | {med['sim'][1]:,.1f} | {med['sim'][2]:.2f} |")
    print(f"| MiniWoB++ in Chromium (scripted) | {len(real)} | {args.real_episodes} | {med['real'][0]:,.1f} | {med['real'][1]:,.2f} | {med['real'][2]:.2f} |")
    print(f"| ratio simulated/real | | | {med['sim'][0] / med['real'][0]:,.0f}x | {med['sim'][1] / med['real'][1]:,.0f}x | |")
    for env, _ in sim + real:
        env.close()


if __name__ == "__main__":
    main()
