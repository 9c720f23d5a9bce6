"""Expert iteration (STaR-style rejection-sampling fine-tuning) on a single-answer selfgym env.

    python examples/expert_iteration.py --env-kwargs '{"level": 2, "max_attempts": 1}' --rounds 2
    python examples/expert_iteration.py --label majority      # label-free: majority vote as the label

Each round the policy samples ``samples`` answers to every training task; the accepted ones
become a supervised set and the policy is fine-tuned on them (loss on the answer tokens only):

- ``--label verifier`` (expert iteration / STaR, Zelikman et al. 2022): an answer is accepted
  when the env's own checker scores it 1.
- ``--label majority`` (label-free self-rewarding, as in SRT / TTRL): no checker; an answer is
  accepted when its parsed final answer equals the majority answer among the task's samples
  and that majority holds at least ``min_agreement`` of them. The checker is consulted only to
  *report* how often the pseudo-label was right, never to choose data.

Tasks are split by a stable hash of their id (half for training, half held out), and a training
or worked-example task whose problem text equals a held-out one is dropped, so no held-out problem
is ever trained on, even in a small problem space; held-out tasks are distinct (drawn from as many
seed blocks as it takes). STaR's choices are options: ``--shots`` (a few-shot prompt of worked
examples), ``--from-base`` (each round restarts from the base model on all accepted data so far)
and ``--max-answer-chars`` (only short accepted answers). Held-out tasks are answered greedily
before training and after every round; the script prints each rate with its 95% Wilson
interval and the paired bootstrap interval of the change. Files in ``--out``: ``log.jsonl`` (one
line per round), ``train_data.jsonl`` (every example trained on, with the sample set it was chosen
from), ``heldout.jsonl`` (per task: 0/1 and the greedy reply before and after each round),
``metrics.json`` and ``learning.png``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class Args:
    env_id: str = "selfgym/Arithmetic-v0"
    """a single-answer selfgym id (Arithmetic-v0, Reasoning-v0, Integration-v0)"""
    env_kwargs: str = '{"level": 2, "max_attempts": 1}'
    """JSON of gym.make kwargs"""
    model: str = "default"
    """a local transformers folder, or 'default' for the converted default model"""
    label: str = "verifier"
    """how samples are accepted: 'verifier' (the env's checker) or 'majority' (self-consistency, no checker)"""
    min_agreement: float = 0.5
    """majority label only: the share of samples the majority answer must hold"""
    train_tasks: int = 192
    """training tasks per round (seeds from --seed)"""
    eval_tasks: int = 300
    """held-out tasks (seeds from --seed + 1,000,000; overlaps with training removed)"""
    rounds: int = 2
    """expert-iteration rounds (sample, filter, fine-tune, evaluate)"""
    samples: int = 4
    """answers sampled per training task per round"""
    temperature: float = 0.8
    """sampling temperature for the training answers"""
    keep_per_task: int = 1
    """at most this many distinct accepted answers per task enter the training set"""
    fresh_tasks: bool = True
    """draw new training tasks every round (else the same tasks are resampled)"""
    max_new_tokens: int = 48
    """tokens per answer (sampling and evaluation)"""
    epochs: int = 2
    """passes over each round's accepted set"""
    learning_rate: float = 2e-5
    """AdamW learning rate"""
    batch_size: int = 8
    """examples per optimiser step"""
    gen_batch_size: int = 32
    """rows per generate call"""
    threads: int = 1
    """torch CPU threads (0: torch's default; on a busy CPU one thread is much faster than several)"""
    seed: int = 0
    """seed for tasks, sampling and training order"""
    out: str = "runs/expert_iteration"
    """output folder"""
    save_model: bool = False
    """also save the final weights into out/model"""
    shots: int = 0
    """worked examples (a problem and its reference answer) shown before every problem, as STaR's
    few-shot prompt; drawn from the training side and kept out of both task sets (the env needs a ``cheat()``)"""
    prefill: str = ""
    """text every reply starts with (e.g. '<answer>'); the model continues it"""
    from_base: bool = False
    """STaR's restart: every round fine-tunes the base model afresh on all examples accepted so far
    (else the previous round's model is fine-tuned on the new round's examples)"""
    max_answer_chars: int = 0
    """keep only accepted answers of at most this many characters (0: any length)"""
    share_prefix: bool = False
    """run the prompts' common start (system message, worked examples) once and reuse its cache"""
    distinct_by: str = "prompt"
    """what makes two tasks the same problem: 'prompt' (the task's text; for generators that repeat a
    problem under new ids) or 'payload' (the whole task state, for envs whose instruction repeats over
    distinct states, such as web pages); ids are split by hash either way"""


def parse_args(argv: list[str] | None = None) -> Args:
    from selfgym.integrations.args import parse_dataclass

    return parse_dataclass(Args, argv, description=__doc__)


_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.S)


def final_answer(env_id: str, text: str):
    """The answer a checker would read from ``text``, normalised for voting (None if there is none)."""
    if env_id.endswith("Arithmetic-v0"):
        from selfgym.envs.arithmetic.task import parse_answer

        return parse_answer(text)
    found = _ANSWER_TAG.findall(text)
    value = (found[-1] if found else text).strip()
    return " ".join(value.split()).lower() or None


def plot(metrics: dict, path: str) -> None:
    """Held-out success with its 95% interval after each round; accepted samples per round."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    rows = metrics["heldout"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    xs = list(range(len(rows)))
    rates = [r["rate"] for r in rows]
    err = [[max(0.0, r["rate"] - r["lo"]) for r in rows], [max(0.0, r["hi"] - r["rate"]) for r in rows]]
    left.errorbar(xs, rates, yerr=err, marker="o", capsize=4)
    left.set_xticks(xs, [r["name"] for r in rows])
    left.set_ylabel(f"held-out success, greedy ({rows[0]['n']} tasks)")
    left.set_ylim(0, 1)
    left.set_title("held-out success (95% Wilson interval)")
    rounds = metrics["rounds"]
    right.bar([f"round {r['round']}" for r in rounds], [r["sample_success"] for r in rounds], color="tab:grey",
              label="sampled answers the checker accepts")
    right.plot([f"round {r['round']}" for r in rounds], [r["accepted_share"] for r in rounds], "o-", color="tab:blue",
               label=f"answers accepted ({metrics['args']['label']})")
    right.set_ylim(0, 1)
    right.legend()
    right.set_title("training samples")
    setting = json.dumps(metrics["env_kwargs"])
    fig.suptitle(f"expert iteration ({metrics['args']['label']}) on {metrics['env_id']} {setting}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_results(args: Args, env_kwargs: dict, held: list, rows: list, win_sets: list, rounds: list, t0: float,
                  shots: Sequence = (), replies: Sequence = ()) -> dict:
    """heldout.jsonl (per-task 0/1 at every evaluation), metrics.json and learning.png, so far."""
    from selfgym.integrations import selfimprove as si

    diff, lo, hi = si.paired_bootstrap(win_sets[0], win_sets[-1])
    with open(os.path.join(args.out, "heldout.jsonl"), "w") as f:
        for i, t in enumerate(held):
            line = {"task": t.id, **{row["name"]: w[i] for row, w in zip(rows, win_sets, strict=True)}}
            line.update({f"{row['name']} reply": texts[i] for row, texts in zip(rows, replies, strict=True)})
            f.write(json.dumps(line) + "\n")
    metrics = {"env_id": args.env_id, "env_kwargs": env_kwargs, "loop": f"expert_iteration/{args.label}",
               "heldout": rows, "change": {"mean": diff, "lo": lo, "hi": hi},
               "beyond_interval": rows[-1]["rate"] > rows[0]["hi"] or rows[-1]["rate"] < rows[0]["lo"],
               "rounds": rounds, "worked_examples": [t.id for t in shots], "seconds": time.time() - t0,
               "args": dataclasses.asdict(args)}
    with open(os.path.join(args.out, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=2)
    if rounds:
        plot(metrics, os.path.join(args.out, "learning.png"))
    return metrics


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.distinct_by not in ("prompt", "payload"):
        raise SystemExit(f"--distinct-by must be 'prompt' or 'payload', got {args.distinct_by!r}")
    if args.label not in ("verifier", "majority"):
        raise SystemExit(f"--label must be 'verifier' or 'majority', got {args.label!r}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from selfgym.integrations import selfimprove as si
    from selfgym.integrations.trl import EnvReward, _make_env, env_tasks, task_prompt

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    env_kwargs = json.loads(args.env_kwargs)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    model, tokenizer = si.load_policy(args.model)
    reward = EnvReward(args.env_id, env_kwargs)
    prompt_env = _make_env(args.env_id, env_kwargs)

    demo: list[dict[str, str]] = []  # the few-shot turns, set below

    def chats_for(tasks):
        chats = [task_prompt(args.env_id, t, env=prompt_env) for t in tasks]
        return [c[:-1] + demo + c[-1:] for c in chats]

    def solved(task, text) -> int:
        score = reward.score(task.to_dict(), text)
        return int(score is not None and score >= 1.0)

    # Split by task id: a stable hash puts every distinct problem on one side only, so held-out
    # problems never appear in training even where the env's problem space is small (Arithmetic
    # level 1 has 243 distinct problems). Held-out problems are distinct from each other.
    # Some generators give the same problem under different ids (reasoning-gym's items depend on
    # seed + index), so problems are also compared by their text. Seed blocks lie 10,000 apart.
    def key(t) -> str:  # what makes two tasks the same problem
        return t.prompt if args.distinct_by == "prompt" else json.dumps(t.payload, sort_keys=True)

    per_round = args.train_tasks if args.fresh_tasks else 0
    need = args.train_tasks + per_round * (args.rounds - 1)
    held, seen_ids, held_prompts = [], set(), set()
    for block in range(8):  # more blocks until enough distinct held-out problems (or none new)
        added = 0
        for t in env_tasks(args.env_id, 4 * args.eval_tasks, seed=args.seed + 1_000_000 + 10_000 * block,
                           env_kwargs=env_kwargs):
            if si.split_of(t.id) == "heldout" and t.id not in seen_ids and key(t) not in held_prompts \
                    and len(held) < args.eval_tasks:
                held.append(t)
                seen_ids.add(t.id)
                held_prompts.add(key(t))
                added += 1
        if len(held) >= args.eval_tasks or not added:
            break
    shot_tasks = []
    if args.shots:
        for t in env_tasks(args.env_id, 50 * args.shots, seed=args.seed + 2_000_000, env_kwargs=env_kwargs):
            if si.split_of(t.id) == "train" and key(t) not in held_prompts and len(shot_tasks) < args.shots \
                    and key(t) not in {key(s) for s in shot_tasks}:
                shot_tasks.append(t)
        reference = getattr(prompt_env.unwrapped, "cheat", None)
        if reference is None:
            raise SystemExit(f"--shots needs reference answers, and {args.env_id} has no cheat()")
        for t in shot_tasks:
            question = task_prompt(args.env_id, t, env=prompt_env)[-1]["content"]  # resets prompt_env to t
            demo += [{"role": "user", "content": question}, {"role": "assistant", "content": reference()}]
    excluded = held_prompts | {key(t) for t in shot_tasks}
    drawn = env_tasks(args.env_id, 3 * need, seed=args.seed, env_kwargs=env_kwargs)
    pool = [t for t in drawn if si.split_of(t.id) == "train" and key(t) not in excluded]
    if not pool:
        raise SystemExit("no training tasks left after removing the held-out problems")
    all_train = [pool[i % len(pool)] for i in range(need)]
    assert not seen_ids & {t.id for t in all_train} and not held_prompts & {key(t) for t in all_train}
    print(f"{len(all_train)} training draws ({len({key(t) for t in all_train})} distinct), "
          f"{len(held)} distinct held-out tasks, {len(shot_tasks)} worked examples", flush=True)
    held_chats = chats_for(held)

    def evaluate(name):
        outs = si.generate(model, tokenizer, held_chats, 1, 0.0, args.max_new_tokens, args.gen_batch_size,
                           prefill=args.prefill, share_prefix=args.share_prefix)
        outs = [[args.prefill + o[0]] for o in outs]
        wins = [solved(t, o[0]) for t, o in zip(held, outs, strict=True)]
        row = si.rate_row(name, wins)
        print(f"[{time.time() - t0:6.0f}s] held-out {name}: {row['rate']:.1%} [{row['lo']:.1%}, {row['hi']:.1%}]",
              flush=True)
        return row, wins, [o[0] for o in outs]

    before, wins0, answers0 = evaluate("before")
    rows, win_sets, replies = [before], [wins0], [answers0]
    log = open(os.path.join(args.out, "log.jsonl"), "w")
    data_file = open(os.path.join(args.out, "train_data.jsonl"), "w")
    rounds, all_examples = [], []
    for r in range(args.rounds):
        start = r * per_round
        tasks = all_train[start:start + args.train_tasks]
        chats = chats_for(tasks)
        torch.manual_seed(args.seed * 1000 + r)
        outs = si.generate(model, tokenizer, chats, args.samples, args.temperature, args.max_new_tokens,
                           args.gen_batch_size, prefill=args.prefill, share_prefix=args.share_prefix)
        outs = [[args.prefill + x for x in o] for o in outs]  # whole replies: what the env scores
        examples, n_correct, n_accepted, accepted_correct, labels_right, labelled = [], 0, 0, 0, 0, 0
        for task, chat, texts in zip(tasks, chats, outs, strict=True):
            truth = [solved(task, x) for x in texts]  # for the report; chooses data only under --label verifier
            n_correct += sum(truth)
            if args.label == "verifier":
                accept, label = truth, None
            else:
                answers = [final_answer(args.env_id, x) for x in texts]
                label, share = si.majority(answers)
                if label is None or share < args.min_agreement:
                    accept = [0] * len(texts)
                else:
                    accept = [int(a == label) for a in answers]
                    labelled += 1
                    labels_right += int(any(t for t, a in zip(truth, answers, strict=True) if a == label))
            seen: set[str] = set()
            for text, ok, right in zip(texts, accept, truth, strict=True):
                if not ok:
                    continue
                n_accepted += 1
                reply = text.strip()
                if reply in seen or len(seen) >= args.keep_per_task:
                    continue
                if args.max_answer_chars and len(reply) > args.max_answer_chars:
                    continue
                seen.add(reply)
                accepted_correct += right
                examples.append((chat, text[len(args.prefill):]))  # the prefill is part of the prompt
                data_file.write(json.dumps({"round": r, "task": task.to_dict(), "completion": text, "label": args.label,
                                            "majority": label, "samples": texts, "verifier": right}) + "\n")
        data_file.flush()
        all_examples += examples
        if args.from_base and r > 0:  # STaR: the base model again, on everything accepted so far
            del model
            model, _ = si.load_policy(args.model)
        stats = si.sft(model, tokenizer, all_examples if args.from_base else examples, epochs=args.epochs,
                       learning_rate=args.learning_rate, batch_size=args.batch_size, seed=args.seed + r,
                       prefill=args.prefill)
        row, wins, answers = evaluate(f"round {r + 1}")
        replies.append(answers)
        rows.append(row)
        win_sets.append(wins)
        n_samples = len(tasks) * args.samples
        entry = {"round": r + 1, "train_tasks": len(tasks), "samples": n_samples,
                 "sample_success": n_correct / n_samples, "accepted": n_accepted,
                 "accepted_share": n_accepted / n_samples, "trained_on": len(examples),
                 "trained_on_correct": accepted_correct, "sft": stats, "heldout": row,
                 "seconds": time.time() - t0}
        if args.label == "majority":
            entry["pseudo_labelled_tasks"] = labelled
            entry["pseudo_label_precision"] = labels_right / labelled if labelled else None
        rounds.append(entry)
        log.write(json.dumps(entry) + "\n")
        log.flush()
        # written after every round, so a stopped run keeps its rounds
        write_results(args, env_kwargs, held, rows, win_sets, rounds, t0, shot_tasks, replies)
        print(f"[{time.time() - t0:6.0f}s] round {r + 1}: sampled success {entry['sample_success']:.1%}, "
              f"trained on {len(examples)} ({accepted_correct} correct), {stats['steps']} steps, "
              f"loss {stats['loss_first']} -> {stats['loss_last']}", flush=True)
    log.close()
    data_file.close()
    metrics = write_results(args, env_kwargs, held, rows, win_sets, rounds, t0, shot_tasks, replies)
    if args.save_model:
        model.save_pretrained(os.path.join(args.out, "model"))
        tokenizer.save_pretrained(os.path.join(args.out, "model"))
    print(si.format_table(rows))
    diff, lo, hi = (metrics["change"][k] for k in ("mean", "lo", "hi"))
    print(f"change after {args.rounds} round(s): {diff:+.1%} (paired 95% bootstrap interval [{lo:+.1%}, {hi:+.1%}]); "
          f"final rate {'outside' if metrics['beyond_interval'] else 'inside'} the before interval; "
          f"{metrics['seconds']:.0f}s")
    prompt_env.close()
    reward.close()
    return metrics


if __name__ == "__main__":
    main()
