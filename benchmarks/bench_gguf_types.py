"""Batched vs single-chat decoding on llama.cpp for each GGUF weight type of the default model.

    python benchmarks/bench_gguf_types.py --types Q4_1,Q4_0,Q8_0,F16,BF16,F32 --threads 1,2 --repeats 3

Each type is derived offline from the default model's Q4_1 GGUF (``derive_gguf``: de-quantised,
then written as that type) and served in this process by xllamacpp (``--chats`` slots, per-slot
KV caches). All servers start first; then each repeat visits every (type, threads) server, in an
order rotated per repeat, and runs ``--chats`` Arithmetic-v0 first prompts greedily with
``--max-tokens`` each, once as one batched ``generate`` call (the chats decode together) and once
one chat per call, alternating which goes first. Reported per server (medians over repeats):

- ``batched_tok_s`` / ``single_tok_s`` and their ratio ``wall_ratio`` (taken per repeat);
- ``cpu_ms_tok_batched`` / ``cpu_ms_tok_single``: this process's CPU time (every thread, the
  servers included) per completion token, and ``cpu_ratio`` = single / batched: how much work
  batching saves, which bounds the wall-clock gain on a machine whose cores are busy anyway;
- ``same_greedy``: chats whose batched token ids equal their one-by-one token ids, in every repeat.

One JSON line per server, then a markdown table. ``--ubatch 64,512`` adds servers per llama.cpp
batch size (``n_batch`` = ``n_ubatch``: the most tokens in one forward pass; decoding 8 chats puts
8 tokens in a pass, prompts are split into passes of this size).

``--quality N`` instead plays N Arithmetic-v0 episodes (``--level``, one attempt, greedy,
``--max-tokens``, 8 envs batched) per type with one thread, the same seeds for every type, and
reports the success rate and the share of answers identical to the first type's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import gymnasium as gym
from bench_backends import prompts  # same folder: the same Arithmetic-v0 first prompts

import selfgym  # noqa: F401 - registers ids
from selfgym.agents.llm import LLMAgent
from selfgym.llm import SamplingParams
from selfgym.llm.llamacpp import LlamaCppBackend, derive_gguf
from selfgym.models import default_gguf_path


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def quality(types: list[str], episodes: int, max_tokens: int, level: int) -> None:
    from selfgym.rollout import rollout

    src = default_gguf_path()
    greedy = SamplingParams(temperature=0.0, max_tokens=max_tokens, seed=0)
    first = None
    for wt in types:
        path = src if wt == "Q4_1" else derive_gguf(src, wt)
        backend = LlamaCppBackend(path, n_parallel=8, threads=1)
        envs = [gym.make("selfgym/Arithmetic-v0", level=level, max_attempts=1) for _ in range(8)]
        t0 = time.perf_counter()
        eps = rollout(envs, LLMAgent(backend, greedy), episodes, seed=0)
        wins = sum(bool(e.success) for e in eps)
        answers = {e.seed: [s.action for s in e.steps] for e in eps}
        first = first or answers
        same = sum(answers[k] == first.get(k) for k in answers)
        print(json.dumps({"type": wt, "level": level, "episodes": len(eps), "successes": wins,
                          "success_rate": wins / len(eps), f"same_answers_as_{types[0]}": same,
                          "wall_s": round(time.perf_counter() - t0, 1), "load_average": os.getloadavg()[0]}),
              flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--types", default="Q4_1,Q4_0,Q8_0,F16,BF16,F32", help="comma-separated weight types")
    ap.add_argument("--threads", default="1,2", help="comma-separated decoding thread counts")
    ap.add_argument("--chats", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ctx-per-slot", type=int, default=1024, help="context per slot (prompts here are short)")
    ap.add_argument("--ubatch", default="", help="comma-separated llama.cpp n_batch = n_ubatch (default: its own)")
    ap.add_argument("--quality", type=int, default=0, metavar="N", help="Arithmetic-v0 success on N episodes per type")
    ap.add_argument("--level", type=int, default=1, help="Arithmetic-v0 level for --quality")
    args = ap.parse_args()
    if args.quality:
        quality(args.types.split(","), args.quality, args.max_tokens, args.level)
        return

    src = default_gguf_path()
    chats = prompts(args.chats)
    greedy = SamplingParams(temperature=0.0, max_tokens=args.max_tokens, seed=0)
    servers = {}
    for wt in args.types.split(","):
        path = src if wt == "Q4_1" else derive_gguf(src, wt)
        for th in (int(t) for t in args.threads.split(",")):
            for ub in [int(u) for u in args.ubatch.split(",") if u] or [None]:
                b = LlamaCppBackend(path, n_parallel=args.chats, ctx_per_slot=args.ctx_per_slot, threads=th,
                                    prompt_token_ids=False, ubatch=ub)
                b.generate(chats, SamplingParams(temperature=0.0, max_tokens=4))  # warm-up
                servers[(wt, th, ub)] = {"backend": b, "size_mb": path.stat().st_size / 2**20, "rows": []}
    load_start = os.getloadavg()
    print(f"load average at start: {load_start}", flush=True)
    keys = list(servers)
    for r in range(args.repeats):
        for key in keys[r % len(keys):] + keys[: r % len(keys)]:
            b = servers[key]["backend"]
            runs = {}
            for mode in (("batched", "single") if r % 2 == 0 else ("single", "batched")):
                if mode == "batched":
                    runs[mode] = timed(lambda b=b: b.generate(chats, greedy))
                else:
                    runs[mode] = timed(lambda b=b: [b.generate([c], greedy)[0] for c in chats])
            row = {}
            for mode, (out, wall, cpu) in runs.items():
                n = sum(len(c.token_ids or []) for c in out)
                row[mode] = {"tokens": n, "tok_s": n / wall, "cpu_ms_tok": 1000 * cpu / max(n, 1)}
            row["same"] = sum(a.token_ids == s.token_ids for a, s in zip(runs["batched"][0], runs["single"][0],
                                                                         strict=True))
            servers[key]["rows"].append(row)
            print(f"repeat {r} {key[0]} x{key[1]} ubatch {key[2] or 'default'}: "
                  f"batched {row['batched']['tok_s']:.1f} tok/s "
                  f"({row['batched']['cpu_ms_tok']:.1f} CPU ms/tok), single {row['single']['tok_s']:.1f} tok/s "
                  f"({row['single']['cpu_ms_tok']:.1f} CPU ms/tok), same greedy {row['same']}/{len(chats)}",
                  flush=True)
    med = statistics.median
    table = []
    for (wt, th, ub), s in servers.items():
        rows = s["rows"]
        res = {
            "type": wt, "threads": th, "ubatch": ub or "default", "size_mb": round(s["size_mb"], 1),
            "batched_tok_s": round(med([x["batched"]["tok_s"] for x in rows]), 1),
            "single_tok_s": round(med([x["single"]["tok_s"] for x in rows]), 1),
            "wall_ratio": round(med([x["batched"]["tok_s"] / x["single"]["tok_s"] for x in rows]), 2),
            "cpu_ms_tok_batched": round(med([x["batched"]["cpu_ms_tok"] for x in rows]), 2),
            "cpu_ms_tok_single": round(med([x["single"]["cpu_ms_tok"] for x in rows]), 2),
            "cpu_ratio": round(med([x["single"]["cpu_ms_tok"] / x["batched"]["cpu_ms_tok"] for x in rows]), 2),
            "same_greedy": f"{min(x['same'] for x in rows)}/{len(chats)}",
        }
        table.append(res)
        print(json.dumps(res))
    print(json.dumps({"machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
                      "date": time.strftime("%Y-%m-%d %H:%M"), "load_average_start": load_start,
                      "load_average_end": os.getloadavg(), "chats": args.chats, "max_tokens": args.max_tokens,
                      "repeats": args.repeats}))
    print("| type | threads | ubatch | MB | batched tok/s | single tok/s | wall ratio | CPU ms/tok batched | single "
          "| CPU ratio | same greedy |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for t in table:
        print(f"| {t['type']} | {t['threads']} | {t['ubatch']} | {t['size_mb']:.0f} | {t['batched_tok_s']} "
              f"| {t['single_tok_s']} "
              f"| {t['wall_ratio']}x | {t['cpu_ms_tok_batched']} | {t['cpu_ms_tok_single']} | {t['cpu_ratio']}x "
              f"| {t['same_greedy']} |")


if __name__ == "__main__":
    main()
