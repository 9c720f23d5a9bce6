"""Rollout throughput: batched vs sequential, and the agent-plus-env overhead over raw generation.

    python benchmarks/bench_rollout.py --envs 8 --episodes 16 --repeats 3

1. Batched vs sequential: the same episodes (Arithmetic-v0, greedy decoding, the default model
   served by xllamacpp) run once over ``--envs`` envs stepped together (one model call per step
   for all of them) and once over a single env. Reported as completion tokens per second and
   episodes per second; the ratio is batched / sequential (goal >= 3x with 8 envs).
2. Overhead: the chats the batched run sent are replayed straight to ``backend.generate`` with
   the same batching; overhead = (rollout time - raw generation time) / raw generation time
   (goal <= 20%). It covers prompt building, action extraction, env steps and bookkeeping.
   On a noisy machine the replay differs run to run, so the script also reports the time the
   batched run spent outside ``generate`` over the time inside it (``overhead_in_run``).

3. CPU per token: the process's CPU time (every thread, the in-process llama.cpp server's
   included) per completion token, batched vs sequential. On a loaded machine wall time mostly
   measures the other jobs; the CPU ratio says how much work batching saves, which bounds the
   wall-clock speed-up with one decoding thread.

4. ``--env-overlap ID``: no model; an oracle agent (each env's ``cheat()``) plays ``--episodes``
   episodes over ``--envs`` envs of ``ID`` with env steps concurrent vs one after another
   (``concurrent_envs``), alternating per repeat; wall seconds and the ratio.

5. ``--llm-overlap ID``: the default model (greedy, through the in-process llama.cpp server)
   plays ``--episodes`` episodes over ``--envs`` envs of ``ID`` (at most ``--max-steps`` steps
   each) with three runners, alternating their order per repeat: ``overlap`` (the runner's
   default: each env on its own thread, the model called for the envs whose step has ended
   while the others step), ``lockstep`` (``overlap=False``: every env's step ends before one
   model call for all; today's runner for envs that may step concurrently) and ``sequential``
   (``concurrent_envs=False``: envs stepped one after another in the calling thread; today's
   runner for thread-bound envs such as MiniWoB++). Wall seconds per batch of episodes,
   completion tokens, the time the envs spent stepping, and ratios against ``overlap``.
   ``--oracle-actions``: the model still generates every turn (same chats, same cost), but each
   env is sent its oracle's action (``cheat()``) instead, so envs do the work of valid actions
   (clicks on the page, sandboxed test runs) that the default model rarely writes.
   ``--env-kwargs JSON`` is passed to ``gymnasium.make``. ``--step-delay S`` adds a wait of
   0 to S seconds (drawn from the episode's seed, so the same in every mode) to each env step,
   the way a remote env, a sandbox round trip or a simulated user waits without using this CPU.

Medians over ``--repeats`` runs, all in one process on one server. ``--sequential-envs`` steps the
envs one after another (the runner's ``concurrent_envs=False``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time

import gymnasium as gym

import selfgym  # noqa: F401 - registers ids
from selfgym.agents.llm import LLMAgent
from selfgym.llm import SamplingParams, make_backend
from selfgym.rollout import rollout


class Recording:
    """Wraps a backend and records each call's chats and its duration."""

    def __init__(self, inner):
        self.inner, self.name, self.calls = inner, inner.name, []

    def generate(self, chats, sampling=None):
        start = time.perf_counter()
        out = self.inner.generate(chats, sampling)
        self.calls.append((list(chats), time.perf_counter() - start))
        return out


ENV_ID, ENV_KW = "selfgym/Arithmetic-v0", {"level": 2, "max_attempts": 1}


def run_once(backend, n_envs: int, episodes: int, sampling: SamplingParams, seed: int, concurrent: bool = True):
    rec = Recording(backend)
    agent = LLMAgent(rec, sampling)
    envs = [gym.make(ENV_ID, **ENV_KW) for _ in range(n_envs)]
    start, cpu = time.perf_counter(), time.process_time()
    eps = rollout(envs, agent, episodes, seed=seed, concurrent_envs=concurrent)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    tokens = sum(len(s.token_ids or []) for e in eps for s in e.steps)
    return wall, tokens, len(eps), rec.calls, cpu


class Oracle:
    """Acts with each env's ``cheat()``: the env is found by the observation object it returned."""

    name = "oracle"
    last_completions: list = []
    last_chats: list = []

    def __init__(self, envs):
        self.envs = envs

    def reset(self):
        pass

    def observe_result(self, info, reward, done):
        pass

    def act_batch(self, observations, infos):
        return [next(e for e in self.envs if getattr(e, "last_obs", None) is o).unwrapped.cheat()
                for o in observations]


class _Remember(gym.Wrapper):
    def reset(self, **kw):
        self.last_obs, info = self.env.reset(**kw)
        return self.last_obs, info

    def step(self, action):
        out = self.env.step(action)
        self.last_obs = out[0]
        return out


def env_overlap(env_id: str, n_envs: int, episodes: int, repeats: int) -> None:
    envs = [_Remember(gym.make(env_id)) for _ in range(n_envs)]
    rollout(envs, Oracle(envs), n_envs, seed=10_000)  # warm-up
    walls = {True: [], False: []}
    for r in range(repeats):
        for conc in ((True, False) if r % 2 == 0 else (False, True)):
            start = time.perf_counter()
            eps = rollout(envs, Oracle(envs), episodes, seed=r * 1000, concurrent_envs=conc)
            walls[conc].append(time.perf_counter() - start)
        print(f"repeat {r}: concurrent {walls[True][-1]:.2f} s, sequential {walls[False][-1]:.2f} s, "
              f"success {sum(e.success for e in eps)}/{len(eps)}", flush=True)
    for e in envs:
        e.close()
    ratios = [s / c for c, s in zip(walls[True], walls[False], strict=True)]
    print(json.dumps({"env": env_id, "envs": n_envs, "episodes": episodes, "repeats": repeats,
                      "load_average": os.getloadavg(), "concurrent_s": statistics.median(walls[True]),
                      "sequential_s": statistics.median(walls[False]), "speedup": statistics.median(ratios)}))


class _Waits(gym.Wrapper):
    """Each step also waits 0..``most`` seconds (seeded by the episode), using no CPU."""

    def __init__(self, env, most: float):
        super().__init__(env)
        self.most = most

    def reset(self, **kw):
        self.rng = random.Random(kw.get("seed"))
        return self.env.reset(**kw)

    def step(self, action):
        time.sleep(self.rng.uniform(0.0, self.most))
        return self.env.step(action)


class ModelPacedOracle(LLMAgent):
    """Generates like an LLMAgent (the model's cost and completions), acts with the env's oracle."""

    def __init__(self, backend, sampling, envs):
        super().__init__(backend, sampling)
        self.envs = envs

    def act_batch(self, observations, infos):
        super().act_batch(observations, infos)
        return [next(e for e in self.envs if getattr(e, "last_obs", None) is o).unwrapped.cheat()
                for o in observations]


def llm_overlap(args) -> None:
    """Wall time per batch of episodes with the default model: overlap vs lockstep vs sequential."""
    kind = args.model.split(":")[0]
    kw = {"n_parallel": max(8, args.envs)} if kind in ("default", "llamacpp") else {}
    backend = make_backend(args.model, threads=args.threads, **kw)
    sampling = SamplingParams(temperature=0.0, max_tokens=args.max_tokens, seed=0)
    envs = [_Remember(gym.make(args.llm_overlap, **json.loads(args.env_kwargs))) for _ in range(args.envs)]
    if args.step_delay:
        envs = [_Remember(_Waits(e.env, args.step_delay)) for e in envs]

    def agent():
        return ModelPacedOracle(backend, sampling, envs) if args.oracle_actions else LLMAgent(backend, sampling)
    modes = {"overlap": {}, "lockstep": {"overlap": False}, "sequential": {"concurrent_envs": False}}
    names = list(modes)
    load_start = os.getloadavg()
    print(f"load average at start: {load_start}", flush=True)
    try:
        rollout(envs, agent(), args.envs, seed=10_000, max_steps=args.max_steps)  # warm-up
        rows: dict[str, list[dict]] = {m: [] for m in modes}
        for r in range(args.repeats):
            for m in names[r % 3:] + names[:r % 3]:
                start = time.perf_counter()
                player = agent()
                eps = rollout(envs, player, args.episodes, seed=r * 1000, max_steps=args.max_steps, **modes[m])
                wall = time.perf_counter() - start
                steps = [s for e in eps for s in e.steps]
                rows[m].append({"wall": wall, "tokens": sum(len(s.token_ids or []) for s in steps),
                                "steps": len(steps), "env_s": sum(s.timings.get("env", 0.0) for s in steps),
                                "success": sum(e.success for e in eps), "load": os.getloadavg()[0],
                                "model_calls": player.calls})
                print(f"repeat {r} {m:10s} {wall:7.2f} s, {rows[m][-1]['tokens']} tokens, {len(steps)} steps "
                      f"in {player.calls} model calls, "
                      f"env steps {rows[m][-1]['env_s']:.2f} s, load {rows[m][-1]['load']:.1f}", flush=True)
    finally:
        for e in envs:
            e.close()
    med = statistics.median
    summary = {
        "machine": f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
                   f"{os.cpu_count()} CPUs",
        "date": time.strftime("%Y-%m-%d"), "env": args.llm_overlap, "env_kwargs": json.loads(args.env_kwargs),
        "oracle_actions": args.oracle_actions, "step_delay_max_s": args.step_delay, "model": args.model,
        "envs": args.envs,
        "episodes": args.episodes, "max_steps": args.max_steps, "max_tokens": args.max_tokens,
        "repeats": args.repeats, "load_average_start": load_start, "load_average_end": os.getloadavg(),
        **{f"{m}_s": med([x["wall"] for x in rows[m]]) for m in modes},
        **{f"{m}_env_s": med([x["env_s"] for x in rows[m]]) for m in modes},
        **{f"{m}_tokens": med([x["tokens"] for x in rows[m]]) for m in modes},
        **{f"{m}_model_calls": med([x["model_calls"] for x in rows[m]]) for m in modes},
        **{f"{m}_vs_overlap": med([x["wall"] / o["wall"] for x, o in zip(rows[m], rows["overlap"], strict=True)])
           for m in ("lockstep", "sequential")},
    }
    print(json.dumps(summary, indent=2))


def overhead_only(args) -> None:
    global ENV_ID, ENV_KW
    if args.env:
        ENV_ID, ENV_KW = args.env, {}
    kind = args.model.split(":")[0]
    kw = {"n_parallel": max(8, args.envs)} if kind in ("default", "llamacpp") else {}
    backend = make_backend(args.model, threads=args.threads, **kw)
    sampling = SamplingParams(temperature=0.0, max_tokens=args.max_tokens, seed=0)
    load = os.getloadavg()
    wall, tokens, n, calls, cpu = run_once(backend, args.envs, args.episodes, sampling, seed=0)
    inside = sum(d for _, d in calls)
    steps = sum(len(chats) for chats, _ in calls)
    print(json.dumps({"env": ENV_ID, "envs": args.envs, "episodes": n, "model_turns": steps, "tokens": tokens,
                      "wall_s": wall, "generate_s": inside, "outside_generate_share_of_wall": (wall - inside) / wall,
                      "load_average_start": load, "load_average_end": os.getloadavg()}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--envs", type=int, default=8)
    ap.add_argument("--episodes", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--model", default="default")
    ap.add_argument("--threads", type=int, default=1, help="decoding threads (llama.cpp or torch)")
    ap.add_argument("--env", default=None, help="env id instead of Arithmetic-v0 (level 2, one attempt)")
    ap.add_argument("--sequential-envs", action="store_true", help="step envs one by one (concurrent_envs=False)")
    ap.add_argument("--overhead-only", action="store_true",
                    help="one batched run only: the share of wall time spent outside generate")
    ap.add_argument("--env-overlap", default=None, metavar="ID", help="time env-step overlap only (oracle agent)")
    ap.add_argument("--llm-overlap", default=None, metavar="ID",
                    help="runner modes with the model: overlap vs lockstep vs sequential on envs of ID")
    ap.add_argument("--max-steps", type=int, default=4, help="step cap per episode for --llm-overlap")
    ap.add_argument("--oracle-actions", action="store_true",
                    help="--llm-overlap: the model generates, the envs get their oracle's actions")
    ap.add_argument("--env-kwargs", default="{}", help="--llm-overlap: JSON keyword arguments for gymnasium.make")
    ap.add_argument("--step-delay", type=float, default=0.0, help="--llm-overlap: each step waits 0..S seconds")
    args = ap.parse_args()
    if args.overhead_only:
        overhead_only(args)
        return
    if args.env_overlap:
        env_overlap(args.env_overlap, args.envs, args.episodes, args.repeats)
        return
    if args.llm_overlap:
        llm_overlap(args)
        return

    global ENV_ID, ENV_KW
    if args.env:
        ENV_ID, ENV_KW = args.env, {}
    kind = args.model.split(":")[0]
    kw = {"n_parallel": max(8, args.envs)} if kind in ("default", "llamacpp") else {}
    kw["threads"] = args.threads
    backend = make_backend(args.model, **kw)
    sampling = SamplingParams(temperature=0.0, max_tokens=args.max_tokens, seed=0)
    conc = not args.sequential_envs
    print(f"load average at start: {os.getloadavg()}", flush=True)
    run_once(backend, args.envs, args.envs, sampling, seed=999, concurrent=conc)  # warm-up
    results = {"batched": [], "sequential": [], "overhead": []}
    for r in range(args.repeats):
        wall_b, tok_b, n_b, calls, cpu_b = run_once(backend, args.envs, args.episodes, sampling, seed=r * 1000,
                                                    concurrent=conc)
        wall_s, tok_s, n_s, _, cpu_s = run_once(backend, 1, args.episodes, sampling, seed=r * 1000)
        raw = 0.0
        for chats, _ in calls:  # replay the same batches straight to the backend
            t = time.perf_counter()
            backend.generate(chats, sampling)
            raw += time.perf_counter() - t
        results["batched"].append({"wall": wall_b, "tok_s": tok_b / wall_b, "eps_s": n_b / wall_b,
                                   "cpu_per_tok": cpu_b / max(tok_b, 1)})
        results["sequential"].append({"wall": wall_s, "tok_s": tok_s / wall_s, "eps_s": n_s / wall_s,
                                      "cpu_per_tok": cpu_s / max(tok_s, 1)})
        inside = sum(d for _, d in calls)  # generate time inside the batched run itself
        results["overhead"].append({"rollout": wall_b, "raw_generate": raw, "overhead": (wall_b - raw) / raw,
                                    "generate_in_run": inside, "overhead_in_run": (wall_b - inside) / inside})
        print(f"repeat {r}: batched {tok_b / wall_b:.1f} tok/s, sequential {tok_s / wall_s:.1f} tok/s, "
              f"overhead vs replay {(wall_b - raw) / raw:+.1%}, non-generate share {(wall_b - inside) / inside:+.2%}, "
              f"CPU ms/token batched {1000 * cpu_b / max(tok_b, 1):.1f} sequential {1000 * cpu_s / max(tok_s, 1):.1f}",
              flush=True)

    med = lambda xs: statistics.median(xs)  # noqa: E731
    summary = {
        "machine": f"{platform.system()} {platform.release()}, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "env": ENV_ID, "envs": args.envs, "episodes": args.episodes, "max_tokens": args.max_tokens, "repeats": args.repeats,
        "batched_tok_s": med([x["tok_s"] for x in results["batched"]]),
        "sequential_tok_s": med([x["tok_s"] for x in results["sequential"]]),
        "batched_eps_s": med([x["eps_s"] for x in results["batched"]]),
        "sequential_eps_s": med([x["eps_s"] for x in results["sequential"]]),
        "speedup_tokens": med([b["tok_s"] / s["tok_s"] for b, s in zip(results["batched"], results["sequential"])]),
        "speedup_episodes": med([b["eps_s"] / s["eps_s"] for b, s in zip(results["batched"], results["sequential"])]),
        "cpu_ratio": med([s["cpu_per_tok"] / b["cpu_per_tok"]
                          for b, s in zip(results["batched"], results["sequential"], strict=True)]),
        "load_average_end": os.getloadavg(),
        "overhead": med([x["overhead"] for x in results["overhead"]]),
        "overhead_in_run": med([x["overhead_in_run"] for x in results["overhead"]]),
        "raw": results,
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "raw"}, indent=2))


if __name__ == "__main__":
    main()
