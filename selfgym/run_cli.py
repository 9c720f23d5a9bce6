"""``selfgym run``, ``selfgym report`` and ``selfgym model``: the main job from the command line.

    selfgym run selfgym/Arithmetic-v0 --agent reflexion --model default --episodes 50 --out runs/arith
    selfgym run --all --episodes 2          # the default model on a few tasks of every family
    selfgym report runs/arith               # PNG plots next to the trajectories
    selfgym model info                      # what the default model is and where it lives

A run writes ``episodes.jsonl`` (one Episode per line: messages, actions, rewards, verdicts,
token ids, timings), ``summary.json`` and ``config.json`` into ``--out``, shows a progress bar,
and prints a table (success, mean reward, tokens, time) per env.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any

AGENTS = ("llm", "reflexion", "constant", "random")
SELF_REWARDS = ("none", "judge", "majority", "confidence", "ptrue")


def register_cli(sub) -> None:
    p = sub.add_parser("run", help="run an agent over env(s) and print a summary table")
    p.add_argument("env_ids", nargs="*", metavar="ENV_ID", help="registered Gymnasium ids (or --all)")
    p.add_argument("--all", action="store_true", help="one id of every Gymnasium family in the catalogue")
    p.add_argument("--agent", choices=AGENTS, default="llm", help="who acts (default: llm)")
    p.add_argument("--model", default="default", help="backend spec: default, llamacpp:<gguf>, transformers:<path>, openai:<url>[#model], vllm:<path>")
    p.add_argument("--episodes", type=int, default=4, help="tasks per env (default 4)")
    p.add_argument("--trials", type=int, default=None, help="attempts per task (default: 3 for reflexion, else 1)")
    p.add_argument("--reflection", default="composite", help="reflexion's reflection type")
    p.add_argument("--self-reward", choices=SELF_REWARDS, default="none", help="replace the env reward by a self-evaluation")
    p.add_argument("--batch", type=int, default=8, help="envs stepped together (one model call per step)")
    p.add_argument("--max-tokens", type=int, default=192, help="tokens per model turn")
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--max-steps", type=int, default=24, help="steps before an episode is cut")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--env-kwargs", default="{}", help="JSON kwargs for gymnasium.make")
    p.add_argument("--out", default=None, help="folder for episodes.jsonl and summary.json (default: runs/<time>)")
    p.set_defaults(func=_run)

    r = sub.add_parser("report", help="write PNG plots for a run folder")
    r.add_argument("run_dir")
    r.set_defaults(func=_report)

    m = sub.add_parser("model", help="the default model")
    msub = m.add_subparsers(dest="model_command", metavar="ACTION")
    mi = msub.add_parser("info", help="what is installed and where")
    mi.set_defaults(func=_model_info)
    mc = msub.add_parser("convert", help="convert the default GGUF into the cached transformers folder")
    mc.set_defaults(func=_model_convert)
    m.set_defaults(func=_model_info)


# ------------------------------------------------------------------------------ run
def family_ids() -> list[str]:
    """One Gymnasium id per family in the catalogue: the shortest id of each (ties by name)."""
    from selfgym.registration import catalog

    best: dict[str, str] = {}
    for e in catalog("gymnasium"):
        cur = best.get(e.family)
        if cur is None or (len(e.id), e.id) < (len(cur), cur):
            best[e.family] = e.id
    return [best[f] for f in sorted(best)]


def make_agent(kind: str, backend: Any, args: Any):
    """The agent named on the command line."""
    from selfgym.llm.base import SamplingParams

    sampling = SamplingParams(temperature=args.temperature, max_tokens=args.max_tokens, seed=args.seed)
    if kind == "llm":
        from selfgym.agents.llm import LLMAgent

        return LLMAgent(backend, sampling)
    if kind == "reflexion":
        from selfgym.agents.reflexion import ReflexionAgent

        return ReflexionAgent(backend, sampling, reflection_type=args.reflection)
    from selfgym.agents import scripted

    return scripted.ConstantAgent("") if kind == "constant" else scripted.RandomAgent(args.seed)


def wrap_self_reward(env: Any, kind: str, backend: Any):
    """Wrap ``env`` in the chosen self-evaluation reward (or return it unchanged)."""
    if kind == "none":
        return env
    from selfgym.agents import self_eval

    cls = {"judge": self_eval.SelfJudge, "majority": self_eval.MajorityVote,
           "confidence": self_eval.Confidence, "ptrue": self_eval.PTrue}[kind]
    return cls(env, backend)


def run_env(env_id: str, agent: Any, backend: Any, args: Any, progress: Any = None, task_id: Any = None):
    """Run one env id; returns its episodes."""
    import gymnasium as gym

    from selfgym.rollout import rollout

    kwargs = json.loads(args.env_kwargs)
    n = max(1, min(args.batch, args.episodes))
    envs = [wrap_self_reward(gym.make(env_id, **kwargs), args.self_reward, backend) for _ in range(n)]
    trials = args.trials or (3 if args.agent == "reflexion" else 1)
    try:
        return rollout(envs, agent, args.episodes, seed=args.seed, trials=trials, max_steps=args.max_steps,
                       env_id=env_id,
                       on_episode=(lambda e: progress.advance(task_id)) if progress is not None else None)
    finally:
        for e in envs:
            try:
                e.close()
            except Exception:  # noqa: BLE001 - closing must not hide the run's result
                pass


def _run(args) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from selfgym.errors import ConfigError
    from selfgym.rollout import save_episodes, summarize

    console = Console(width=140)
    ids = list(args.env_ids) + (family_ids() if args.all else [])
    if not ids:
        raise ConfigError("name at least one ENV_ID, or pass --all")
    out = args.out or os.path.join("runs", time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "episodes.jsonl")
    open(path, "w").close()
    backend = None
    if args.agent in ("llm", "reflexion") or args.self_reward != "none":
        from selfgym.llm import make_backend

        backend = make_backend(args.model)
    rows: dict[str, dict[str, Any]] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False) as progress:
        for env_id in ids:
            agent = make_agent(args.agent, backend, args)
            trials = args.trials or (3 if args.agent == "reflexion" else 1)
            tid = progress.add_task(env_id, total=args.episodes * trials)
            start = time.perf_counter()
            try:
                episodes = run_env(env_id, agent, backend, args, progress, tid)
            except Exception as exc:  # noqa: BLE001 - one broken env must not end a catalogue run
                rows[env_id] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
                progress.update(tid, description=f"{env_id} (failed)")
                continue
            progress.update(tid, completed=args.episodes * trials)
            save_episodes(episodes, path, append=True)
            rows[env_id] = {**summarize(episodes), "wall_seconds": time.perf_counter() - start}
    config = {k: v for k, v in vars(args).items() if k != "func"}
    config["backend"] = getattr(backend, "name", None)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(rows, f, indent=2, default=str)
    console.print(summary_table(rows, f"{args.agent} on {config['backend'] or 'no model'}"))
    console.print(f"trajectories: {path}")
    return 0 if all("error" not in r for r in rows.values()) else 1


def summary_table(rows: dict[str, dict[str, Any]], title: str):
    """A rich table of per-env summaries (``rollout.summarize`` rows)."""
    from rich.table import Table

    table = Table(title=title)
    for col in ("env", "episodes", "success", "any trial", "mean reward", "tokens", "time (s)", "note"):
        table.add_column(col, justify="left" if col in ("env", "note") else "right")
    for env_id, r in rows.items():
        if "error" in r:
            table.add_row(env_id, "-", "-", "-", "-", "-", "-", r["error"])
            continue
        mean = "nan" if math.isnan(r["mean_reward"]) else f"{r['mean_reward']:.3f}"
        note = f"{r['invalid_rewards']} invalid reward(s)" if r.get("invalid_rewards") else ""
        table.add_row(env_id, str(r["episodes"]), f"{r['success']:.0%}", f"{r['success_any_trial']:.0%}", mean,
                      str(r["tokens"]), f"{r['wall_seconds']:.1f}", note)
    return table


# ------------------------------------------------------------------------------ report
def _report(args) -> int:
    from selfgym.report import write_report

    for p in write_report(args.run_dir):
        print(p)
    return 0


# ------------------------------------------------------------------------------ model
def _model_info(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from selfgym.models import model_info

    info = model_info()
    table = Table(title="default model", show_header=False)
    for key, value in info.items():
        table.add_row(key, json.dumps(value) if isinstance(value, (dict, list)) else str(value))
    Console(width=160).print(table)
    return 0 if info.get("gguf") else 1


def _model_convert(args) -> int:
    from selfgym.models import default_model_dir

    print(default_model_dir())
    return 0
