"""Customer service (tau2 retail and airline): oracle steps per second, no LLM.

Run: ``python benchmarks/bench_customer_service.py [--rounds 5]``. One round replays every task's
oracle (``include_no_change=True``: all 114 retail and 50 airline tasks) through the Gymnasium
view, with the scripted user answering inside, and through the two-seat AEC env. Also times
what makes an episode cheap: a copy-on-write database against a full deep copy, and the
changed-records hash against hashing the whole database. Prints a Markdown table of medians.
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import time

import gymnasium as gym

import selfgym  # noqa: F401  (registers the ids)
from selfgym.envs.customer_service.aec import raw_env
from selfgym.envs.customer_service.data import DOMAINS, load_base_db
from selfgym.envs.customer_service.db import Database, full_hash
from selfgym.envs.customer_service.oracle import oracle_actions
from selfgym.envs.customer_service.reward import replay
from selfgym.envs.customer_service.user import ScriptedUser


def gym_round(env, tasks) -> tuple[int, int, float]:
    """Every oracle once through the Gym view; returns (episodes, agent steps, seconds)."""
    steps, start = 0, time.perf_counter()
    for task in tasks:
        env.reset(options={"task": task})
        done = False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.unwrapped.cheat())
            steps += 1
            done = terminated or truncated
        assert reward == 1.0, task.id
    return len(tasks), steps, time.perf_counter() - start


def aec_round(env, tasks) -> tuple[int, int, float]:
    """Every oracle once through the AEC env (agent: oracle, user: scripted); (episodes, steps of both seats, s)."""
    steps, start, user = 0, time.perf_counter(), ScriptedUser()
    for task in tasks:
        env.reset(options={"task": task})
        actions = iter(oracle_actions(task))
        for seat in env.agent_iter():
            obs, reward, terminated, truncated, info = env.last()
            if terminated or truncated:
                env.step(None)
                continue
            env.step(user.act(obs["text"], info) if seat == "user" else next(actions))
            steps += 1
        assert reward == 1.0, task.id
    return len(tasks), steps, time.perf_counter() - start


def timed(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds; medians are reported")
    args = parser.parse_args(argv)

    rows = []
    for domain in DOMAINS:
        env = gym.make(f"selfgym/CustomerService-{domain}-v0", include_no_change=True)
        tasks = env.unwrapped.task_set()
        aec = raw_env(domain=domain, include_no_change=True)
        gym_round(env, tasks), aec_round(aec, tasks)  # warm-up (loads data, replays gold once)
        g = [gym_round(env, tasks) for _ in range(args.rounds)]
        a = [aec_round(aec, tasks) for _ in range(args.rounds)]
        base = load_base_db(domain)
        busy = max(tasks, key=lambda t: t.difficulty["write_actions"])
        db = replay(busy)[0].db
        rows.append({
            "domain": domain, "tasks": len(tasks),
            "gym_steps_s": statistics.median(s / t for _, s, t in g),
            "gym_eps_s": statistics.median(e / t for e, _, t in g),
            "aec_steps_s": statistics.median(s / t for _, s, t in a),
            "cow_us": statistics.median(timed(lambda: Database(base), 2000) for _ in range(3)) * 1e6,
            "deepcopy_ms": statistics.median(timed(lambda: copy.deepcopy(base), 3) for _ in range(3)) * 1e3,
            "hash_us": statistics.median(timed(db.state_hash, 500) for _ in range(3)) * 1e6,
            "full_hash_ms": statistics.median(timed(lambda: full_hash(base), 3) for _ in range(3)) * 1e3,
        })

    print(f"machine: {platform.platform()}, Python {platform.python_version()}; date: {time.strftime('%Y-%m-%d')}")
    print(f"rounds: {args.rounds} (medians)\n")
    print("| domain | tasks | Gym view agent steps/s | episodes/s | AEC steps/s (both seats) "
          "| new episode DB (copy-on-write) | full deep copy | state hash (changed records) | full-DB hash |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['domain']} | {r['tasks']} | {r['gym_steps_s']:,.0f} | {r['gym_eps_s']:,.0f} | {r['aec_steps_s']:,.0f} "
              f"| {r['cow_us']:.2f} us | {r['deepcopy_ms']:.1f} ms ({r['deepcopy_ms'] * 1e3 / r['cow_us']:,.0f}x) "
              f"| {r['hash_us']:.1f} us | {r['full_hash_ms']:.1f} ms ({r['full_hash_ms'] * 1e3 / r['hash_us']:,.0f}x) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
