"""Reflexion across trials: success by trial k against trial 1, and against a no-reflection retry.

    python examples/reflexion_trials.py --env-kwargs '{"level": 1, "max_attempts": 1}' --trials 3
    python examples/reflexion_trials.py --types retry,explanation,solution --tasks 100
    python examples/reflexion_trials.py --env-id selfgym/Web-click-button-v0 --env-kwargs '{"max_steps": 3}' \
        --backend llamacpp --tasks 80 --max-tokens 12 --reflection-tokens 48

Every distinct task (up to ``--tasks``) is attempted once; the tasks that fail are attempted
again, up to ``--trials`` times, by ``agents.reflexion.ReflexionAgent`` (Shinn et al. 2023;
reflection types of Renze & Guven 2024) over ``TransformersBackend``. Before each retry the
agent writes a reflection on its failed transcript (the env's verdict, which names the right
answer, is redacted to "That answer was judged wrong.") and keeps it in the task's memory,
shown in the system prompt of the next trial. The ``retry`` type is the no-reflection
baseline: the same retry with only "your previous attempt was wrong; try again". Every type
starts from the same first attempt (run once and shared), so the types differ only in what they
do with the failed transcripts.

Multi-step envs work the same way: a trial is one episode, reset on the same seed and task
(a web page is regenerated identically), stepped in batches until the env's step cap ends it;
the reflection reads the whole failed episode. For the web family (``--env-id
selfgym/Web-click-button-v0 --env-kwargs '{"max_steps": 3}'``) the prompt is a short one with
three worked example turns (``--template auto``; the env's own system prompt is long for a
135M model, which then restates the instruction instead of acting), and ``--backend llamacpp``
serves the default model's GGUF through llama.cpp instead of torch.

Printed and saved (``--out``): success after each trial with its 95% Wilson interval, and the
paired bootstrap interval of (trial k - trial 1) and of (type - retry) at the last trial;
``results.jsonl`` holds every attempt (task, seed, first observation, the memory and the
system prompt actually sent, the actions) and its verdict; ``metrics.json``; ``trials.png``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from dataclasses import dataclass


@dataclass
class Args:
    env_id: str = "selfgym/Arithmetic-v0"
    """a selfgym id whose episodes end by themselves (one answer with max_attempts 1, or a web step cap)"""
    env_kwargs: str = '{"level": 1, "max_attempts": 1}'
    """JSON of gym.make kwargs"""
    model: str = "default"
    """a local transformers folder, or 'default' for the converted default model"""
    types: str = "retry,explanation"
    """comma-separated reflection types (agents.reflexion.REFLECTION_TYPES); 'retry' is the baseline"""
    tasks: int = 243
    """distinct tasks (drawn from seeds --seed.., duplicates removed)"""
    trials: int = 3
    """attempts per task (a task stops at its first success)"""
    temperature: float = 0.0
    """sampling temperature of the answers (0: greedy)"""
    reflection_temperature: float = 0.7
    """sampling temperature of the reflections"""
    max_tokens: int = 48
    """tokens per answer"""
    reflection_tokens: int = 96
    """tokens per reflection"""
    threads: int = 1
    """torch CPU threads (on a busy CPU one thread is much faster than several)"""
    seed: int = 0
    """seed for tasks and sampling"""
    backend: str = "transformers"
    """'transformers' (the converted default model in torch) or 'llamacpp' (the default model's GGUF in llama.cpp)"""
    template: str = "auto"
    """prompt: 'auto' (a short one-shot web prompt for the web family, else the env's own), 'env' (always the env's)"""
    max_episode_steps: int = 50
    """safety cap on steps per episode (the env's own cap, e.g. max_steps for web, should end it first)"""
    out: str = "runs/reflexion_trials"
    """output folder"""


def parse_args(argv: list[str] | None = None) -> Args:
    from selfgym.integrations.args import parse_dataclass

    return parse_dataclass(Args, argv, description=__doc__)


WEB_SYSTEM = ("You operate a web page. Each element is listed as [id] role 'name'. Reply with one action: "
              "click('id'), fill('id', 'text') or press('Enter').")
WEB_SHOTS = [
    {"role": "user", "content": "Instruction: Click on the \"OK\" button.\nPage:\n[1] RootWebArea 'Click Button'\n"
                                "  [2] text 'amber stone'\n  [3] button 'Back'\n  [4] text 'river hill'\n"
                                "  [5] button 'OK'"},
    {"role": "assistant", "content": "click('5')"},
    {"role": "user", "content": "Instruction: Select pine and click Submit.\nPage:\n[1] RootWebArea 'Click Option'\n"
                                "  [2] radio 'oak'\n  [3] radio 'pine'\n  [4] button 'Submit'"},
    {"role": "assistant", "content": "click('3')"},
    {"role": "user", "content": "Instruction: Select pine and click Submit.\nPage:\n[1] RootWebArea 'Click Option'\n"
                                "  [2] radio 'oak'\n  [3] radio 'pine' checked\n  [4] button 'Submit'"},
    {"role": "assistant", "content": "click('4')"},
]

_WEB_CALL = re.compile(r"\b(click|fill|select_option|press|scroll|hover|noop|send_msg_to_user)\s*\([^()]*\)")


def web_template():
    """A short prompt for the web family: a compact action list and one worked example (the
    env's own system prompt is long for a 135M model), and the first action call of the reply."""
    from selfgym.prompting import GenericTemplate

    class WebTemplate(GenericTemplate):
        family = "web"
        system_prompt = WEB_SYSTEM

        def chat(self, observation, info, memory=""):
            dialogue = [dict(m) for m in (info.get("messages") or [])
                        if m.get("role") != "system" and m.get("content") is not None]
            if not dialogue:
                dialogue = [{"role": "user", "content": str(observation)}]
            head = {"role": "system", "content": "\n\n".join(p for p in (self.system_prompt, memory) if p)}
            return [head] + [dict(m) for m in WEB_SHOTS] + self._fit(dialogue)

        def extract(self, text, info):
            m = _WEB_CALL.search(text)
            return m.group(0) if m else text.strip()

    return WebTemplate(max_chars=2500)


def distinct_tasks(env_id: str, n: int, seed: int, env_kwargs: dict) -> list:
    from selfgym.integrations.trl import env_tasks

    out, seen = [], set()
    for t in env_tasks(env_id, 20 * n, seed=seed, env_kwargs=env_kwargs):
        if t.id not in seen:
            seen.add(t.id)
            out.append(t)
        if len(out) >= n:
            break
    return out


def make_agent(rtype: str, backend, args: Args):
    from selfgym.agents.reflexion import ReflexionAgent
    from selfgym.llm.base import SamplingParams

    templates = {"web": web_template()} if args.template == "auto" else None
    return ReflexionAgent(
        backend, templates=templates,
        sampling=SamplingParams(temperature=args.temperature, max_tokens=args.max_tokens, seed=args.seed),
        reflection_type=rtype,
        reflection_sampling=SamplingParams(temperature=args.reflection_temperature, max_tokens=args.reflection_tokens,
                                           seed=args.seed, stop=["\nUSER:"]))


def attempt(agent, envs, tasks, active: list[int], args: Args, log, rtype: str,
            trial: int) -> dict[int, tuple[bool, dict, float]]:
    """One trial (one episode, reset on the same seed and task) of every active task, stepped in
    batches (one model call per step for all episodes still running):
    {task index: (passed, last step info, reward)}."""
    obs, infos, first_infos = {}, {}, {}
    for i in active:
        o, info = envs[i].reset(seed=args.seed, options={"task": tasks[i].to_dict()})
        obs[i], infos[i], first_infos[i] = o, info, info
    first_obs = {i: str(obs[i].get("text", obs[i]) if isinstance(obs[i], dict) else obs[i]) for i in active}
    agent.reflect_pending()  # reflections on the last trial's failures go into memory now
    memories = {i: agent.memory_for(infos[i]) for i in active}
    system: dict[int, str] = {}
    out: dict[int, tuple[bool, dict, float]] = {}
    actions: dict[int, list[str]] = {i: [] for i in active}
    running = list(active)
    while running:
        acts = agent.act_batch([obs[i] for i in running], [infos[i] for i in running])
        for i, chat in zip(running, agent.last_chats, strict=True):
            system.setdefault(i, str(chat[0]["content"]))  # the system prompt of the trial's first step
        still = []
        for i, action in zip(running, acts, strict=True):
            o, reward, terminated, truncated, step_info = envs[i].step(action)
            actions[i].append(action)
            if terminated or truncated:
                passed = bool((step_info.get("verdict") or {}).get("passed", reward > 0))
                out[i] = (passed, step_info, reward)
            elif len(actions[i]) >= args.max_episode_steps:
                raise RuntimeError(f"{args.env_id} ran {len(actions[i])} steps without ending; pass a step cap "
                                   "(max_attempts=1 for one-answer envs, max_steps=N for web) in --env-kwargs")
            else:
                obs[i], infos[i] = o, step_info
                still.append(i)
        running = still
    for i in active:
        passed = out[i][0]
        log.write(json.dumps({"type": rtype, "trial": trial, "task": tasks[i].id, "seed": args.seed,
                              "task_id": first_infos[i].get("task_id"), "observation": first_obs[i][:4000],
                              "memory": memories[i], "system": system[i], "actions": actions[i],
                              "action": actions[i][-1], "passed": passed}) + "\n")
    log.flush()
    return out


def run_types(types: list[str], tasks: list, backend, args: Args, env_kwargs: dict, log) -> dict[str, list[list[int]]]:
    """Success after each trial (cumulative) per task, for every reflection type.

    Trial 1 is run once and shared: every type's agent observes the same failed transcripts, so
    the types differ only in what they do with them.
    """
    import gymnasium as gym

    envs = [gym.make(args.env_id, **env_kwargs) for _ in tasks]
    first = attempt(make_agent("retry", backend, args), envs, tasks, list(range(len(tasks))), args, log, "all", 1)
    trial1 = [int(first[i][0]) for i in range(len(tasks))]
    print(f"  trial 1 (shared): {sum(trial1)}/{len(tasks)}", flush=True)
    results = {}
    for rtype in types:
        agent = make_agent(rtype, backend, args)
        for _passed, step_info, reward in first.values():
            agent.observe_result(step_info, reward, True)
        solved = list(trial1)
        by_trial = [list(trial1)]
        for trial in range(2, args.trials + 1):
            active = [i for i in range(len(tasks)) if not solved[i]]
            done = attempt(agent, envs, tasks, active, args, log, rtype, trial)
            for i, (passed, step_info, reward) in done.items():
                solved[i] = int(passed)
                agent.observe_result(step_info, reward, True)
            by_trial.append(list(solved))
            print(f"  {rtype}: after trial {trial}: {sum(solved)}/{len(tasks)} "
                  f"({agent.reflections_written} reflections written)", flush=True)
        results[rtype] = by_trial
    for e in envs:
        e.close()
    return results


def plot(metrics: dict, path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for rtype, rows in metrics["types"].items():
        xs = [r["trial"] for r in rows]
        yerr = [[max(0.0, r["rate"] - r["lo"]) for r in rows], [max(0.0, r["hi"] - r["rate"]) for r in rows]]
        ax.errorbar(xs, [r["rate"] for r in rows], yerr=yerr, marker="o", capsize=3, label=rtype)
    ax.set_xlabel("trial")
    ax.set_xticks(range(1, metrics["args"]["trials"] + 1))
    ax.set_ylabel(f"success by trial k ({metrics['tasks']} tasks)")
    ax.legend()
    ax.set_title(f"Reflexion on {metrics['env_id']} {json.dumps(metrics['env_kwargs'])}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from selfgym.integrations import selfimprove as si

    env_kwargs = json.loads(args.env_kwargs)
    types = [t.strip() for t in args.types.split(",") if t.strip()]
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    if args.backend == "llamacpp":
        from selfgym.llm import make_backend

        spec = "default" if args.model == "default" else f"llamacpp:{args.model}"
        backend = make_backend(spec, threads=args.threads or None)
    else:
        from selfgym.llm.transformers import TransformersBackend

        model, tokenizer = si.load_policy(args.model)
        backend = TransformersBackend(args.model, model=model, tokenizer=tokenizer, threads=args.threads or None)
    tasks = distinct_tasks(args.env_id, args.tasks, args.seed, env_kwargs)
    print(f"{len(tasks)} distinct tasks, types {types}", flush=True)
    results: dict[str, list[list[int]]] = {}
    with open(os.path.join(args.out, "results.jsonl"), "w") as log:
        results.update(run_types(types, tasks, backend, args, env_kwargs, log))
    table, per_type = [], {}
    for rtype, by_trial in results.items():
        rows = []
        for k, wins in enumerate(by_trial, 1):
            row = si.rate_row(f"{rtype}, trial {k}", wins)
            row["trial"] = k
            rows.append(row)
            table.append(row)
        diff, lo, hi = si.paired_bootstrap(by_trial[0], by_trial[-1])
        per_type[rtype] = rows
        rows[-1]["change_vs_trial1"] = {"mean": diff, "lo": lo, "hi": hi}
    comparisons = {}
    if "retry" in results:
        for rtype in results:
            if rtype != "retry":
                d, lo, hi = si.paired_bootstrap(results["retry"][-1], results[rtype][-1])
                comparisons[f"{rtype} - retry"] = {"mean": d, "lo": lo, "hi": hi}
    metrics = {"env_id": args.env_id, "env_kwargs": env_kwargs, "tasks": len(tasks), "types": per_type,
               "comparisons": comparisons, "seconds": time.time() - t0, "args": dataclasses.asdict(args)}
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    plot(metrics, os.path.join(args.out, "trials.png"))
    print(si.format_table(table))
    for rtype, rows in per_type.items():
        c = rows[-1]["change_vs_trial1"]
        print(f"{rtype}: trial {args.trials} - trial 1 = {c['mean']:+.1%} "
              f"(paired 95% interval [{c['lo']:+.1%}, {c['hi']:+.1%}])")
    for name, c in comparisons.items():
        print(f"{name} at trial {args.trials}: {c['mean']:+.1%} (paired 95% interval [{c['lo']:+.1%}, {c['hi']:+.1%}])")
    print(f"{metrics['seconds']:.0f}s")
    return metrics


if __name__ == "__main__":
    main()
