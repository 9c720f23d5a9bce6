"""Scaling out: executor overhead, rollout and verification throughput against workers.

    python benchmarks/bench_scale.py --workers 1 2 4 8 --json /tmp/scale.json

Everything runs in one process, on one Ray cluster of simulated nodes (``ray.cluster_utils``:
a head with no CPUs for work plus ``max(--workers)`` worker nodes of 1 CPU and a 100 MB object
store each, all on 127.0.0.1). The policy is the scripted shadow oracle (each env's ``cheat()``),
so no model time is measured: these are the env-side figures.

1. Overhead per step of each executor against in-process: the same ToolUse-v0 episodes over 2
   envs in-process, in a sync and an async vector env, on 2 Ray actors and over 2 sessions of
   an OpenEnv server (in this process, loopback). Reported as seconds per step and the
   difference from in-process.
2. Rollout throughput against workers: CodeTask-v0 (single-step, verified in the process
   sandbox inside each actor) and ToolUse-v0 (multi-step) over 1, 2, 4, 8 actors, one per
   simulated node (SPREAD). Steps and episodes per second; efficiency = throughput(n) /
   (n x throughput(1)).
3. Verification throughput against nodes: a ``RaySandboxPool`` with one process-sandbox pool
   (1 worker) per node, fed by 4 x n threads running ``run_tests`` on a small correct solution.
   Verdicts per second; efficiency as above.

The machine has few cores: once workers outnumber cores, throughput cannot grow, so the script
also reports efficiency per core (throughput(n) / (min(n, cores) x throughput(1))).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import threading
import time

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # keep Ray on loopback

import selfgym  # noqa: F401 - registers ids
from selfgym.executors import ShadowOracle, drive, make_executor

MB = 1024 * 1024
REV = "def rev(s):\n    return s[::-1]\n"
TESTS = ("def test_a(candidate):\n    assert candidate('ab') == 'ba'\n\n"
         "def test_b(candidate):\n    assert candidate('') == ''\n")


def rss_mb(pid: int) -> float:
    """Resident memory of a local process (the simulated nodes share this machine)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def timed_run(kind: str, env_id: str, n: int, episodes: int, env_kwargs=None, **options) -> dict:
    policy = ShadowOracle(env_id, env_kwargs)
    rss = None
    with make_executor(kind, env_id, n, env_kwargs=env_kwargs, **options) as ex:
        drive(ex, policy, min(n, 2), seed=10_000, env_id=env_id)  # warm: imports, pools, first pages
        t0 = time.perf_counter()
        eps = drive(ex, policy, episodes, seed=0, env_id=env_id)
        wall = time.perf_counter() - t0
        if kind == "ray":
            rss = sum(rss_mb(p["pid"]) for p in ex.placement()) / n  # type: ignore[attr-defined]
    policy.close()
    steps = sum(len(e.steps) for e in eps)
    bad = [e for e in eps if e.metadata["status"] != "ok" or e.total_reward != 1.0]
    if bad:
        raise RuntimeError(f"{kind} {env_id}: {len(bad)} episodes did not pass; the figures would be wrong")
    return {"executor": kind, "env": env_id, "workers": n, "episodes": len(eps), "steps": steps, "seconds": wall,
            "steps_per_s": steps / wall, "episodes_per_s": len(eps) / wall, "s_per_step": wall / steps,
            "actor_rss_mb": rss}


def overhead(episodes: int) -> list[dict]:
    from selfgym.serve_env import make_app
    from selfgym.verifiers.service import BackgroundServer

    env_id = "selfgym/ToolUse-v0"
    rows = [timed_run(k, env_id, 2, episodes) for k in ("inprocess", "sync", "async")]
    rows.append(timed_run("ray", env_id, 2, episodes, num_cpus=0.1, resources={"worker": 0.1}))
    with BackgroundServer(make_app(env_id, max_sessions=2)) as server:
        rows.append(timed_run("envserver", env_id, 2, episodes, urls=[server.url]))
    base = rows[0]["s_per_step"]
    for r in rows:
        r["overhead_ms_per_step"] = (r["s_per_step"] - base) * 1000
    return rows


def rollout_scaling(workers: list[int], episodes_per_worker: int) -> list[dict]:
    rows = []
    for env_id, kwargs in (("selfgym/CodeTask-v0", {"sandbox": "process"}), ("selfgym/ToolUse-v0", None)):
        for n in workers:
            rows.append(timed_run("ray", env_id, n, episodes_per_worker * n, env_kwargs=kwargs,
                                  num_cpus=0.1, resources={"worker": 0.1}, strategy="STRICT_SPREAD"))
    return rows


def verification_scaling(workers: list[int], seconds: float) -> list[dict]:
    from selfgym.verifiers.checker import run_tests
    from selfgym.verifiers.service import RaySandboxPool

    rows = []
    for n in workers:
        pool = RaySandboxPool(nodes=n, backend="process", pool_size=1, num_cpus=0.1, resources={"worker": 0.1})
        try:
            pool.warm()
            assert run_tests(REV, TESTS, entry_point="rev", sandbox=pool).passed
            done, failed = [0], [0]
            stop = time.perf_counter() + seconds

            def feed(stop=stop, pool=pool, done=done, failed=failed) -> None:
                while time.perf_counter() < stop:
                    v = run_tests(REV, TESTS, entry_point="rev", sandbox=pool)
                    done[0] += 1
                    failed[0] += not v.passed

            t0 = time.perf_counter()
            threads = [threading.Thread(target=feed) for _ in range(4 * n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
            if failed[0]:
                raise RuntimeError(f"{failed[0]} verdicts failed on a correct solution")
            rows.append({"nodes": n, "verdicts": done[0], "seconds": wall, "verdicts_per_s": done[0] / wall})
        finally:
            pool.close()
    return rows


def efficiency(rows: list[dict], key: str, workers_key: str, cores: int) -> None:
    one = rows[0][key]
    for r in rows:
        n = r[workers_key]
        r["efficiency"] = r[key] / (n * one)
        r["efficiency_per_core"] = r[key] / (min(n, cores) * one)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--episodes", type=int, default=24, help="episodes per executor for the overhead runs")
    ap.add_argument("--episodes-per-worker", type=int, default=6)
    ap.add_argument("--verify-seconds", type=float, default=8.0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import ray
    from ray.cluster_utils import Cluster

    cores = os.cpu_count() or 1
    load_before = os.getloadavg()
    common = {"object_store_memory": 100 * MB, "node_ip_address": "127.0.0.1"}
    t_start = time.perf_counter()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False, **common})
    try:
        for _ in range(max(args.workers)):
            cluster.add_node(num_cpus=1, resources={"worker": 1}, **common)
        ray.init(address=cluster.address, _node_ip_address="127.0.0.1", log_to_driver=False)
        cluster.wait_for_nodes()
        cluster_s = time.perf_counter() - t_start
        print(f"cluster of {max(args.workers)} worker nodes up in {cluster_s:.1f}s", flush=True)
        over = overhead(args.episodes)
        for r in over:
            print(f"overhead {r['executor']:10s} {r['s_per_step'] * 1000:8.2f} ms/step  "
                  f"{r['overhead_ms_per_step']:+8.2f} ms vs in-process", flush=True)
        roll = rollout_scaling(args.workers, args.episodes_per_worker)
        for env_id in ("selfgym/CodeTask-v0", "selfgym/ToolUse-v0"):
            sub = [r for r in roll if r["env"] == env_id]
            efficiency(sub, "steps_per_s", "workers", cores)
            for r in sub:
                print(f"rollout {env_id:22s} {r['workers']} actors: {r['steps_per_s']:7.1f} steps/s "
                      f"{r['episodes_per_s']:6.1f} episodes/s  eff {r['efficiency']:.2f}  "
                      f"per core {r['efficiency_per_core']:.2f}  actor RSS {r['actor_rss_mb']:.0f} MB", flush=True)
        ver = verification_scaling(args.workers, args.verify_seconds)
        efficiency(ver, "verdicts_per_s", "nodes", cores)
        for r in ver:
            print(f"verify {r['nodes']} nodes: {r['verdicts_per_s']:7.1f} verdicts/s  eff {r['efficiency']:.2f}  "
                  f"per core {r['efficiency_per_core']:.2f}", flush=True)
    finally:
        ray.shutdown()
        cluster.shutdown()
    out = {"machine": {"platform": platform.platform(), "cpus": cores, "python": platform.python_version()},
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_before": load_before,
           "load_after": os.getloadavg(), "cluster_start_s": cluster_s, "overhead": over, "rollout": roll,
           "verification": ver}
    print(f"load average before {load_before[0]:.1f}, after {out['load_after'][0]:.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
