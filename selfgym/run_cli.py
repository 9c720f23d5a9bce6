"""``selfgym run``, ``selfgym report`` and ``selfgym model``: the main job from the command line.

    selfgym run selfgym/Arithmetic-v0 --agent reflexion --model default --episodes 50 --out runs/arith
    selfgym run --all --episodes 2          # the default model on a few tasks of every family
    selfgym run --all --budget 600          # stop after ten minutes, keeping what finished
    selfgym report runs/arith               # PNG plots next to the trajectories
    selfgym model info                      # what the default model is and where it lives

A run writes ``episodes.jsonl`` (one Episode per line: messages, actions, rewards, verdicts,
token ids, timings; each episode is appended as it finishes), ``summary.json`` and
``config.json`` into ``--out``, shows a progress bar, prints each env's row as that env
finishes, and a table (success, mean reward, tokens, wall time) per env at the end.

``--budget SECONDS`` bounds the whole run's wall time: each env gets an equal share of what is
left when it starts, so every env gets a row. An env whose share runs out stops at once; its
finished episodes are kept and its row says ``stopped: budget``. Ctrl-C (SIGINT) and SIGTERM
stop the run the same way: finished episodes, ``summary.json`` (rows marked ``stopped``) and
``config.json`` are written before the command exits (status 130 or 143).
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from typing import Any

AGENTS = ("llm", "reflexion", "constant", "random")
POOL_SIZE_ENV = "SELFGYM_POOL_SIZE"

# ``--all``: per family, the id that represents it (text-solvable, a few seconds per episode).
# A family not listed here gets its shortest id whose description does not say it needs vision.
REPRESENTATIVE = {
    "arithmetic": "selfgym/Arithmetic-v0",
    "code": "selfgym/CodeTask-v0",
    "customer_service": "selfgym/CustomerService-retail-v0",
    "integration": "selfgym/Integration-v0",
    "miniwob": "selfgym/MiniWoB-login-user-v0",
    "negotiation": "selfgym/Negotiation-v0",
    "reasoning": "selfgym/Reasoning-v0",
    "tooluse": "selfgym/ToolUse-v0",
    "web": "selfgym/Web-v0",
}
SELF_REWARDS = ("none", "judge", "majority", "confidence", "ptrue")


def register_cli(sub) -> None:
    p = sub.add_parser("run", help="run an agent over env(s) and print a summary table")
    p.add_argument("env_ids", nargs="*", metavar="ENV_ID", help="registered Gymnasium ids (or --all)")
    p.add_argument("--all", action="store_true", help="one representative, text-solvable id of every Gymnasium family")
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
    p.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                   help="wall-clock limit for the whole run; each env gets an equal share of what is left, "
                        "and what finished is kept")
    p.add_argument("--pool-size", type=int, default=None, metavar="N",
                   help=f"warm sandbox workers (default: ${POOL_SIZE_ENV} or the CPU count, at least 2)")
    p.add_argument("--executor", choices=("inprocess", "sync", "async", "ray", "envserver"), default="inprocess",
                   help="where the envs run (selfgym.executors); --batch envs, actors or sessions")
    p.add_argument("--address", default=None, help="with --executor ray: the Ray cluster (default: a local one)")
    p.add_argument("--env-url", action="append", default=None, metavar="URL",
                   help="with --executor envserver: a `selfgym serve-env` server (repeatable)")
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
    """One representative Gymnasium id per family in the catalogue (``REPRESENTATIVE``; for a
    family not listed, its shortest id whose description does not say "needs vision")."""
    from selfgym.registration import catalog

    entries = catalog("gymnasium")
    known = {e.id for e in entries}
    best: dict[str, str] = {}
    for e in entries:
        if REPRESENTATIVE.get(e.family) in known:
            best[e.family] = REPRESENTATIVE[e.family]
            continue
        if "needs vision" in e.description:
            continue
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


class RunStopped(BaseException):
    """Raised in the main thread when the run must stop early (budget spent, SIGTERM).

    A BaseException, like KeyboardInterrupt, so that no env's ``except Exception`` swallows it.
    """

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _on_signal(reason: str):
    def handler(signum, frame):
        raise RunStopped(reason)
    return handler


def run_env(env_id: str, agent: Any, backend: Any, args: Any, progress: Any = None, task_id: Any = None,
            sink: list | None = None, path: str | None = None):
    """Run one env id; returns its episodes.

    Each finished episode is appended to ``sink`` and to the JSON-lines file ``path`` at once, so
    a run stopped part-way keeps every episode that finished.
    """
    import gymnasium as gym

    from selfgym.rollout import rollout, save_episodes

    kwargs = json.loads(args.env_kwargs)
    n = max(1, min(args.batch, args.episodes))
    envs: list[Any] = []
    trials = args.trials or (3 if args.agent == "reflexion" else 1)

    def finished(ep) -> None:
        if sink is not None:
            sink.append(ep)
        if path is not None:
            save_episodes([ep], path, append=True)
        if progress is not None:
            progress.advance(task_id)

    if getattr(args, "executor", "inprocess") != "inprocess":  # envs elsewhere: selfgym.executors
        from selfgym.errors import ConfigError
        from selfgym.executors import drive, make_executor

        if args.self_reward != "none":
            raise ConfigError("--self-reward wraps envs in this process; use it with --executor inprocess")
        with make_executor(args.executor, env_id, n, env_kwargs=kwargs, address=args.address, urls=args.env_url) as ex:
            return drive(ex, agent, args.episodes, seed=args.seed, trials=trials, max_steps=args.max_steps,
                         env_id=env_id, on_episode=finished)
    try:
        for _ in range(n):
            envs.append(wrap_self_reward(gym.make(env_id, **kwargs), args.self_reward, backend))
        return rollout(envs, agent, args.episodes, seed=args.seed, trials=trials, max_steps=args.max_steps,
                       env_id=env_id, on_episode=finished)
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
    from selfgym.rollout import summarize

    t_run = time.monotonic()
    console = Console(width=140)
    ids = list(args.env_ids) + (family_ids() if args.all else [])
    if not ids:
        raise ConfigError("name at least one ENV_ID, or pass --all")
    if args.budget is not None and not args.budget > 0:
        raise ConfigError(f"--budget must be a positive number of seconds, got {args.budget!r}")
    if args.pool_size is not None:
        if args.pool_size < 1:
            raise ConfigError(f"--pool-size must be at least 1, got {args.pool_size!r}")
        os.environ[POOL_SIZE_ENV] = str(args.pool_size)  # read when the shared sandbox starts
    deadline = None if args.budget is None else t_run + args.budget
    out = args.out or os.path.join("runs", time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "episodes.jsonl")
    open(path, "w").close()
    config = {k: v for k, v in vars(args).items() if k != "func"}
    rows: dict[str, dict[str, Any]] = {}
    stopped: str | None = None  # "interrupt" or "SIGTERM" once the whole run must end
    main_thread = threading.current_thread() is threading.main_thread()
    if deadline is not None and not main_thread:
        raise ConfigError("--budget needs the main thread (it stops the run with a timer signal)")
    old_term = signal.signal(signal.SIGTERM, _on_signal("SIGTERM")) if main_thread else None
    old_alarm = signal.signal(signal.SIGALRM, _on_signal("budget")) if main_thread else None
    backend = None
    try:
        if args.agent in ("llm", "reflexion") or args.self_reward != "none":
            from selfgym.llm import make_backend

            backend = make_backend(args.model)
        config["backend"] = getattr(backend, "name", None)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=False) as progress:
            for k, env_id in enumerate(ids):
                if stopped:
                    rows[env_id] = {"episodes": 0, "stopped": stopped}
                    continue
                share = None
                if deadline is not None:
                    share = (deadline - time.monotonic()) / (len(ids) - k)
                    if share <= 0:
                        rows[env_id] = {"episodes": 0, "stopped": "budget"}
                        console.print(row_line(env_id, rows[env_id]))
                        continue
                trials = args.trials or (3 if args.agent == "reflexion" else 1)
                tid = progress.add_task(env_id, total=args.episodes * trials)
                episodes: list[Any] = []
                reason: str | None = None
                error: str | None = None
                start = time.perf_counter()
                try:
                    if share is not None:
                        signal.setitimer(signal.ITIMER_REAL, share)
                    agent = make_agent(args.agent, backend, args)
                    run_env(env_id, agent, backend, args, progress, tid, sink=episodes, path=path)
                except RunStopped as exc:
                    reason = exc.reason
                except KeyboardInterrupt:
                    reason = "interrupt"
                except Exception as exc:  # noqa: BLE001 - one broken env must not end a catalogue run
                    error = f"{type(exc).__name__}: {exc}"[:200]
                finally:
                    if share is not None:
                        signal.setitimer(signal.ITIMER_REAL, 0)
                row: dict[str, Any] = {**summarize(episodes), "wall_seconds": time.perf_counter() - start}
                if error:
                    row["error"] = error
                    progress.update(tid, description=f"{env_id} (failed)")
                if reason:
                    row["stopped"] = reason
                    progress.update(tid, description=f"{env_id} (stopped: {reason})")
                    if reason != "budget":
                        stopped = reason
                rows[env_id] = row
                console.print(row_line(env_id, row))
    except RunStopped as exc:  # while loading the model
        stopped = exc.reason
    except KeyboardInterrupt:
        stopped = "interrupt"
    finally:
        if main_thread:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGTERM, old_term)
            signal.signal(signal.SIGALRM, old_alarm)
        config.setdefault("backend", getattr(backend, "name", None))
        for env_id in ids:
            rows.setdefault(env_id, {"episodes": 0, "stopped": stopped or "interrupt"})
        config["wall_seconds"] = time.monotonic() - t_run
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
        with open(os.path.join(out, "summary.json"), "w") as f:
            json.dump(rows, f, indent=2, default=str)
    console.print(summary_table(rows, f"{args.agent} on {config['backend'] or 'no model'}"))
    console.print(f"trajectories: {path}")
    if stopped:
        console.print(f"stopped early ({stopped}); finished episodes and the summary are in {out}")
        if stopped != "budget":  # the budget is the user's own limit, not a failure
            return 143 if stopped == "SIGTERM" else 130
    return 0 if all("error" not in r for r in rows.values()) else 1


def row_line(env_id: str, r: dict[str, Any]) -> str:
    """One env's result as a line, printed as soon as the env finishes."""
    if not r.get("episodes"):
        what = r.get("error") or (f"stopped: {r['stopped']}" if r.get("stopped") else "no episodes")
        return f"{env_id}: 0 episodes, {what}"
    mean = "nan" if math.isnan(r["mean_reward"]) else f"{r['mean_reward']:.3f}"
    parts = [f"{r['episodes']} episodes", f"success {r['success']:.0%}", f"mean reward {mean}",
             f"{r['tokens']} tokens", f"{r.get('wall_seconds', r['seconds']):.1f} s"]
    if r.get("error"):
        parts.append(f"error: {r['error']}")
    if r.get("stopped"):
        parts.append(f"stopped: {r['stopped']}")
    return f"{env_id}: " + ", ".join(parts)


def summary_table(rows: dict[str, dict[str, Any]], title: str):
    """A rich table of per-env summaries (``rollout.summarize`` rows)."""
    from rich.table import Table

    table = Table(title=title)
    for col in ("env", "episodes", "success", "any trial", "mean reward", "tokens", "time (s)", "note"):
        table.add_column(col, justify="left" if col in ("env", "note") else "right")
    for env_id, r in rows.items():
        if not r.get("episodes"):
            note = r.get("error") or (f"stopped: {r['stopped']}" if r.get("stopped") else "no episodes")
            table.add_row(env_id, "0", "-", "-", "-", "-", f"{r['wall_seconds']:.1f}" if "wall_seconds" in r else "-", note)
            continue
        mean = "nan" if math.isnan(r["mean_reward"]) else f"{r['mean_reward']:.3f}"
        notes = []
        if r.get("invalid_rewards"):
            notes.append(f"{r['invalid_rewards']} invalid reward(s)")
        if r.get("error"):
            notes.append(r["error"])
        if r.get("stopped"):
            notes.append(f"stopped: {r['stopped']}")
        table.add_row(env_id, str(r["episodes"]), f"{r['success']:.0%}", f"{r['success_any_trial']:.0%}", mean,
                      str(r["tokens"]), f"{r['wall_seconds']:.1f}", "; ".join(notes))
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
