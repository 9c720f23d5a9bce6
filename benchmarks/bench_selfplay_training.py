"""Cost of one negotiation self-play training round's stages with the default model on CPU.

Measures, in one run: model games played side by side (``play_round``, one batched generate
per turn) against the same games played one at a time (``batch_size=1``); one SFT epoch on a
filtered BC set (seconds per example); saving a snapshot. Time is the process's CPU time with
torch on one thread, so a busy shared machine does not inflate the figures; wall-clock time for
the whole run is printed too. Prints medians over repeats and the batched/unbatched ratio.

    python benchmarks/bench_selfplay_training.py [--games 4] [--max-messages 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time


def cpu(fn):
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--games", type=int, default=4)
    parser.add_argument("--max-messages", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=24)
    parser.add_argument("--bc-games", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(1)
    from selfgym.envs.negotiation.partners import make_partner
    from selfgym.integrations.selfplay import Policy, play_round, sft_on_examples
    from selfgym.llm import SamplingParams

    wall = time.time()
    policy = Policy.load("default", sampling=SamplingParams(temperature=1.0, max_tokens=args.max_tokens, seed=0))
    demos = play_round(make_partner("fair"), [], selfplay_games=args.bc_games, pool_games=0, seed=0)
    # play: CPU seconds per model output (games differ in length, so per output is the fair unit)
    results: dict[str, list[float]] = {"batched": [], "one_at_a_time": [], "sft": [], "snapshot": []}
    turns = {}
    for r in range(args.repeats):
        for name, batch in (("batched", args.games), ("one_at_a_time", 1)):
            policy.eval_mode()
            secs, games = cpu(lambda: play_round(policy.agent, [], selfplay_games=args.games, pool_games=0, seed=100 * r,
                                                 max_messages=args.max_messages, batch_size=batch))
            turns[name] = sum(len(g.episodes[0].steps) + len(g.episodes[1].steps) for g in games.records)
            results[name].append(secs / turns[name])
        with tempfile.TemporaryDirectory() as tmp:
            secs, _ = cpu(lambda: sft_on_examples(policy, demos.bc_examples, output_dir=tmp, batch_size=4, max_length=512))
            results["sft"].append(secs / len(demos.bc_examples))
            secs, _ = cpu(lambda: policy.save_snapshot(os.path.join(tmp, "snap")))
            results["snapshot"].append(secs)
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"torch {torch.__version__} (1 thread); {time.strftime('%Y-%m-%d')}")
    print(f"{args.games} self-play games, <= {args.max_messages} messages, <= {args.max_tokens} tokens per output; "
          f"{len(demos.bc_examples)} BC examples; {args.repeats} repeats; model turns in the last repeat: {turns}")
    print("| stage | median CPU s |")
    print("|---|---:|")
    print(f"| one model output, games side by side | {med['batched']:.2f} |")
    print(f"| one model output, one game at a time | {med['one_at_a_time']:.2f} |")
    print(f"| SFT, per BC example (one epoch, batch 4) | {med['sft']:.2f} |")
    print(f"| snapshot save | {med['snapshot']:.2f} |")
    print(f"side by side vs one at a time: {med['one_at_a_time'] / med['batched']:.2f}x less CPU per model output")
    print(f"wall clock for the whole run: {time.time() - wall:.0f} s")


if __name__ == "__main__":
    main()
