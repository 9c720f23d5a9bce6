"""ToolUse-v0 and the tool layer: oracle steps per second, parser and execution cost.

Run: ``python benchmarks/bench_tooluse.py [--rounds 7]``. Prints a Markdown table of medians
over rounds (one round replays every shipped task's oracle through the env, no LLM).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import gymnasium as gym

import selfgym  # noqa: F401  (registers the ids)
from selfgym.envs.tooluse import tasks as rules
from selfgym.envs.tooluse.domains import DOMAINS
from selfgym.tools import ToolCall, parse_actions


def oracle_round(env, tasks) -> tuple[int, int, float]:
    """Replay every oracle once; returns (episodes, steps, seconds)."""
    steps = 0
    start = time.perf_counter()
    for task in tasks:
        env.reset(options={"task": task})
        for action in rules.oracle_actions(task):
            *_, terminated, truncated, info = env.step(action)
            steps += 1
        assert terminated and info["verdict"]["passed"], task.id
    return len(tasks), steps, time.perf_counter() - start


def per_call_us(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds; medians are reported")
    parser.add_argument("--n", type=int, default=2000, help="calls per micro-benchmark round")
    args = parser.parse_args(argv)

    tasks = rules.builtin_tasks()
    env = gym.make("selfgym/ToolUse-v0")
    oracle_round(env, tasks)  # warm-up
    rounds = [oracle_round(env, tasks) for _ in range(args.rounds)]
    steps_per_s = statistics.median(s / t for _, s, t in rounds)
    episodes_per_s = statistics.median(e / t for e, _, t in rounds)
    steps_per_episode = rounds[0][1] / rounds[0][0]

    call = {"name": "convert_length", "arguments": {"value": 3.5, "from_unit": "mi", "to_unit": "km"}}
    plain = json.dumps(call)
    forms = {
        "JSON object": plain,
        "OpenAI `tool_calls`": json.dumps({"tool_calls": [{"id": "c0", "type": "function", "function": {
            "name": call["name"], "arguments": json.dumps(call["arguments"])}}]}),
        "`<tool_call>` block": f"Let me convert.\n<tool_call>{plain}</tool_call>",
        "plain reply": "I think the answer might be about five kilometres, let me check.",
    }
    parse_us = {k: statistics.median(per_call_us(lambda t=t: parse_actions(t), args.n) for _ in range(args.rounds))
                for k, t in forms.items()}
    ts = DOMAINS["units"].toolset()
    tc = ToolCall(call["name"], call["arguments"])
    exec_us = statistics.median(per_call_us(lambda: ts.execute(tc), args.n) for _ in range(args.rounds))
    raw_us = statistics.median(per_call_us(lambda: DOMAINS["units"].convert_length(3.5, "mi", "km"), args.n)
                               for _ in range(args.rounds))
    bad = ToolCall(call["name"], {"value": "lots", "from_unit": "mi", "to_unit": "km"})
    bad_us = statistics.median(per_call_us(lambda: ts.execute(bad), args.n) for _ in range(args.rounds))
    toolset_us = statistics.median(per_call_us(DOMAINS["travel"].toolset, 200) for _ in range(args.rounds))

    print(f"ToolUse-v0 benchmark - Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}, "
          f"{len(tasks)} tasks, {args.rounds} rounds (medians)\n")
    print("| measure | value |\n|---|---|")
    print(f"| oracle env steps/s (reset + parse + execute + check) | {steps_per_s:,.0f} |")
    print(f"| oracle episodes/s ({steps_per_episode:.1f} steps each) | {episodes_per_s:,.0f} |")
    for k, v in parse_us.items():
        print(f"| `parse_actions`, {k} | {v:.1f} us |")
    print(f"| `ToolSet.execute`, valid call (validate + coerce + run + render) | {exec_us:.1f} us |")
    print(f"| the same function called directly | {raw_us:.2f} us |")
    print(f"| `ToolSet.execute`, mistyped argument (error result) | {bad_us:.1f} us |")
    print(f"| building a domain ToolSet from 6 functions (once per domain) | {toolset_us:.0f} us |")
    print(f"\nexecute overhead over a direct call: {exec_us / raw_us:.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
