"""Deal or No Deal env speed with scripted players (env steps per second, one process).

Measures, in one run: the AEC env ``env()``, the same behind PettingZoo's
``OrderEnforcingWrapper`` (for reference: classic PettingZoo envs ship wrapped), the Parallel
env, and ``selfgym/Negotiation-v0`` (one step there includes the
partner's turn). Players: fair vs greedy for the PettingZoo envs, fair learner vs fair partner
for the Gymnasium view; their decisions are included in the time. Every game is reset with a
seed, as in seeded evaluation. Time is the process's CPU time (one thread), so a busy shared
machine does not deflate the figures; wall-clock time for the whole run is printed too.
Prints medians over repeats and the ratios to the AEC env.

    python benchmarks/bench_negotiation.py [--games 2000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import gymnasium as gym

import selfgym  # noqa: F401
from pettingzoo.utils.wrappers import OrderEnforcingWrapper

from selfgym.envs.negotiation.batched import play_batch
from selfgym.envs.negotiation.env import env, parallel_env
from selfgym.envs.negotiation.partners import FairPartner, GreedyPartner


def run_aec(make, games: int) -> tuple[int, float]:
    e = make()
    players = {"player_0": FairPartner(), "player_1": GreedyPartner()}
    steps = 0
    start = time.process_time()
    for seed in range(games):
        e.reset(seed=seed)
        for agent in e.agent_iter():
            obs, reward, term, trunc, info = e.last()
            if term or trunc:
                e.step(None)
                continue
            e.step(players[agent].act(obs, info))
            steps += 1
    return steps, time.process_time() - start


def run_parallel(games: int) -> tuple[int, float]:
    p = parallel_env()
    players = {"player_0": FairPartner(), "player_1": GreedyPartner()}
    steps = 0
    start = time.process_time()
    for seed in range(games):
        obs, infos = p.reset(seed=seed)
        while p.agents:
            mover = infos["player_0"]["active_agent"]
            obs, rewards, terms, truncs, infos = p.step({mover: players[mover].act(obs[mover], infos[mover])})
            steps += 1
    return steps, time.process_time() - start


def run_single(games: int) -> tuple[int, float]:
    e = gym.make("selfgym/Negotiation-v0", partner="fair").unwrapped
    learner = FairPartner()
    steps = 0
    start = time.process_time()
    for seed in range(games):
        obs, info = e.reset(seed=seed)
        while True:
            obs, r, term, trunc, info = e.step(learner.act(obs, info))
            steps += 1
            if term or trunc:
                break
    return steps, time.process_time() - start


def run_batched(games: int) -> tuple[int, float]:
    start = time.process_time()
    res = play_batch(range(games), ("fair", "greedy"))
    return res.total_steps, time.process_time() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--games", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    cases = {
        "AEC env()": lambda: run_aec(env, args.games),
        "AEC OrderEnforcingWrapper(env())": lambda: run_aec(lambda: OrderEnforcingWrapper(env()), args.games),
        "Parallel parallel_env()": lambda: run_parallel(args.games),
        "Negotiation-v0 (learner steps)": lambda: run_single(args.games),
        "batched play_batch (one call)": lambda: run_batched(args.games),
        "batched play_batch, 20x games": lambda: run_batched(20 * args.games),
    }
    run_aec(env, 200)  # warm the context table
    results = {}
    wall = time.perf_counter()
    for name, fn in cases.items():
        rates = []
        for _ in range(args.repeats):
            steps, secs = fn()
            rates.append(steps / secs)
        results[name] = (statistics.median(rates), steps)
    wall = time.perf_counter() - wall
    base = results["AEC env()"][0]
    print(f"python {platform.python_version()}, {args.games} games x {args.repeats} repeats, {time.strftime('%Y-%m-%d')}, "
          f"wall {wall:.1f} s for the timed runs")
    print(f"{'case':34s} {'steps/CPU-s (median)':>21s} {'steps/game':>11s} {'vs AEC':>11s}")
    for name, (rate, steps) in results.items():
        games = 20 * args.games if "20x" in name else args.games
        print(f"{name:34s} {rate:21,.0f} {steps / games:11.2f} {rate / base:10.2f}x")


if __name__ == "__main__":
    main()
