"""The self-challenging loop: the policy writes code tasks, the sandbox keeps the valid ones,
and the policy trains on them with GRPO.

    python examples/self_challenge_loop.py --rounds 2 --proposals 8 --seed-tasks 8
    python examples/self_challenge_loop.py --model /models/Qwen2.5-Coder-7B-Instruct --rounds 4 --proposals 64

After "Self-Challenging Language Model Agents" (Zhou et al., 2025). Each round:

1. **Challenger**: the policy reads ``CodeChallenge-v0`` briefs and proposes ``proposals``
   Code-as-Task tasks (instruction, signature, solution, verification, failure cases).
2. **Filter**: the sandbox validator keeps a proposal only if its verification passes its own
   solution and rejects every failure case (and, with ``solve_attempts``, only if the policy's
   pass rate p lies in ``keep_lo..keep_hi``). Proposed / valid / kept counts are logged.
3. **Executor**: GRPO on ``CodeTask-v0`` (one attempt per episode) over the kept tasks, each
   passed through ``reset(options={"task": ...})``; the reward is the env's own
   (``EnvReward``), and sandbox failures are masked, never scored 0.

A small model rarely writes a valid task, so the executor may have nothing of its own to
practise: ``--seed-tasks N`` mixes in N bundled tasks, and ``--oracle-proposals N`` sends N
oracle proposals (renamed bundled tasks) through the same validator to exercise the filter. The
log names every training task's origin: ``self-proposed``, ``oracle`` or ``bundled``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

ENV_ID = "selfgym/CodeTask-v0"


@dataclass
class Args:
    model: str = "default"
    """a local transformers folder, or 'default' for the converted default model"""
    rounds: int = 1
    """challenge-filter-train rounds"""
    proposals: int = 4
    """tasks the policy proposes per round"""
    challenge_tokens: int = 768
    """tokens per proposal (a whole task with tests and failure cases is long)"""
    solve_attempts: int = 0
    """executor attempts per valid proposal to measure its pass rate p (0: keep every valid task)"""
    keep_lo: float = 0.0
    """with solve_attempts: keep a valid task only if p >= keep_lo"""
    keep_hi: float = 1.0
    """with solve_attempts: keep a valid task only if p <= keep_hi"""
    seed_tasks: int = 0
    """bundled tasks mixed into the executor's training set (so it always has something)"""
    oracle_proposals: int = 0
    """oracle proposals per round sent through the validator (to exercise the filter)"""
    grpo_steps: int = 4
    """GRPO optimiser steps per round"""
    batch_size: int = 4
    """completions per GRPO step (prompts per step = batch_size / generations)"""
    generations: int = 2
    """GRPO group size"""
    max_completion_length: int = 256
    """tokens per executor answer"""
    learning_rate: float = 1e-5
    """GRPO learning rate"""
    temperature: float = 1.0
    """sampling temperature for both roles"""
    sandbox: str = "auto"
    """sandbox backend: docker, process or auto"""
    seed: int = 0
    """seed for briefs, sampling and training"""
    out: str = "runs/self_challenge"
    """folder for log.jsonl and the kept tasks (pool.jsonl)"""



def parse_args(argv: list[str] | None = None) -> Args:
    from selfgym.integrations.args import parse_dataclass

    return parse_dataclass(Args, argv, description=__doc__)


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import numpy as np
    import torch
    from trl import GRPOConfig, GRPOTrainer

    from selfgym.agents.llm import LLMAgent
    from selfgym.agents.self_challenging import SelfChallengingAgent
    from selfgym.envs.code.pool import TaskPool
    from selfgym.envs.code.sources import load_bundled
    from selfgym.integrations.selfplay import Policy
    from selfgym.integrations.trl import EnvReward, task_dataset
    from selfgym.llm import SamplingParams
    from selfgym.verifiers import get_sandbox
    from selfgym.types import Task

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    sandbox = get_sandbox(args.sandbox)
    policy = Policy.load(args.model, sampling=SamplingParams(temperature=args.temperature,
                                                             max_tokens=args.max_completion_length, seed=args.seed))
    challenger = LLMAgent(policy.backend, SamplingParams(temperature=args.temperature, max_tokens=args.challenge_tokens,
                                                         seed=args.seed), name="challenger")
    pool = TaskPool()
    loop = SelfChallengingAgent(challenger=challenger, executor=policy.agent, pool=pool,
                                solve_attempts=args.solve_attempts, keep_pass_rate=(args.keep_lo, args.keep_hi),
                                n_envs=max(1, min(args.proposals, 8)), seed=args.seed,
                                challenge_kwargs={"sandbox": sandbox},
                                solve_kwargs={"sandbox": sandbox, "max_attempts": 1})
    oracle_env = loop.challenge_envs[0]  # the same validator as the policy's proposals
    bundled = load_bundled()
    seed_tasks = [bundled[int(i)] for i in rng.choice(len(bundled), size=min(args.seed_tasks, len(bundled)), replace=False)]
    origin = {t.id: "bundled" for t in seed_tasks}
    env_kwargs = {"max_attempts": 1, "sandbox": sandbox}
    os.makedirs(args.out, exist_ok=True)
    log_path = os.path.join(args.out, "log.jsonl")
    open(log_path, "w").close()
    rows = []

    for rnd in range(args.rounds):
        t0 = time.time()
        policy.eval_mode()
        # 1-2. The policy proposes; the sandbox validator (and the keep band) filter into the pool.
        before, pooled = loop.stats.to_dict(), {t.id for t in pool.tasks()}
        loop.run(rounds=1, proposals_per_round=args.proposals)
        now = loop.stats.to_dict()
        self_counts = {k: now[k] - before[k] for k in ("proposed", "valid", "kept", "infra_errors")}
        for t in pool.tasks():
            if t.id not in pooled:
                origin[t.id] = "self-proposed"
        oracle_counts = {"proposed": 0, "valid": 0, "kept": 0}
        for k in range(args.oracle_proposals):
            oracle_env.reset(seed=args.seed + 7919 * rnd + k)
            _, _, _, _, info = oracle_env.step(oracle_env.cheat())
            oracle_counts["proposed"] += 1
            if not info.get("valid"):
                continue
            oracle_counts["valid"] += 1
            task = Task.from_dict(info["proposal"])  # kept like the policy's tasks: pass rate inside the band
            p = loop.pass_rate(task) if args.solve_attempts else None
            if (p is None or args.keep_lo <= p <= args.keep_hi) and pool.add(task):
                oracle_counts["kept"] += 1
                origin[task.id] = "oracle"
        kept = pool.tasks()
        train_tasks = kept + seed_tasks
        row = {"round": rnd, "self_proposed": self_counts, "oracle": oracle_counts, "pool_size": len(kept),
               "kept_tasks": [{"id": t.id, "origin": origin[t.id]} for t in kept],
               "train_tasks": [{"id": t.id, "origin": origin[t.id]} for t in train_tasks],
               "challenge_seconds": round(time.time() - t0, 1)}

        # 3. GRPO on CodeTask-v0 over the kept (and seed) tasks, each given through reset(options).
        if train_tasks:
            t1 = time.time()
            dataset = task_dataset(ENV_ID, len(train_tasks), env_kwargs=env_kwargs, tasks=train_tasks)
            reward = EnvReward(ENV_ID, env_kwargs)
            on_cpu = next(policy.model.parameters()).device.type == "cpu"
            config = GRPOConfig(
                output_dir=os.path.join(args.out, f"round_{rnd}"), max_steps=args.grpo_steps,
                per_device_train_batch_size=args.batch_size, num_generations=args.generations,
                max_completion_length=args.max_completion_length, learning_rate=args.learning_rate,
                temperature=args.temperature, seed=args.seed + rnd, logging_steps=1, report_to=[],
                save_strategy="no", use_cpu=on_cpu, bf16=(not on_cpu) and torch.cuda.is_bf16_supported(),
            )
            weights = policy.parameters_copy()
            policy.tokenizer.padding_side = "left"
            trainer = GRPOTrainer(model=policy.model, reward_funcs=[reward], args=config, train_dataset=dataset,
                                  processing_class=policy.tokenizer)
            trainer.train()
            reward.close()
            policy.eval_mode()
            key = f"rewards/{reward.__name__}/mean"
            row["grpo"] = {"steps": int(trainer.state.global_step),
                           "reward_by_step": [h[key] for h in trainer.state.log_history if key in h],
                           "reward_calls": dict(reward.stats), "weights": policy.weight_change(weights),
                           "seconds": round(time.time() - t1, 1)}
            del weights
        else:
            row["grpo"] = None
            row["note"] = "no valid task was kept and --seed-tasks is 0: nothing to train on this round"
        pool.save(os.path.join(args.out, "pool.jsonl"))
        rows.append(row)
        with open(log_path, "a") as f:
            f.write(json.dumps(row) + "\n")
        sp = row["self_proposed"]
        by_origin = {o: sum(t["origin"] == o for t in row["train_tasks"]) for o in ("self-proposed", "oracle", "bundled")}
        print(f"round {rnd}: self-proposed {sp['proposed']} -> valid {sp['valid']} -> kept {sp['kept']} | "
              f"oracle {oracle_counts['proposed']} -> kept {oracle_counts['kept']} | training tasks {by_origin} | "
              + (f"GRPO rewards {row['grpo']['reward_by_step']}" if row["grpo"] else "no training"), flush=True)
    sandbox.close()
    return rows


if __name__ == "__main__":
    main()
