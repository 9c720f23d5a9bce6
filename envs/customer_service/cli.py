"""``selfgym customer-service export|oracle``: write the tasks as JSON lines; replay the oracles.

``export`` writes a domain's tasks (the tau2 data as selfgym Tasks) to a JSON-lines file that
``gym.make(..., tasks=path)`` reads back. ``oracle`` plays every task with its oracle and with a
silent agent against the scripted customer and prints the success rates (a self-check: 1.0 / 0.0).
"""

from __future__ import annotations

import argparse

from selfgym.types import dump_jsonl


def _export(args: argparse.Namespace) -> int:
    from selfgym.envs.customer_service.tasks import task_list

    tasks = task_list(args.domain, None, args.split, args.include_no_change)
    n = dump_jsonl(tasks, args.out)
    print(f"wrote {n} {args.domain or 'customer-service'} task(s) to {args.out}")
    return 0


def _oracle(args: argparse.Namespace) -> int:
    import gymnasium as gym

    import selfgym  # noqa: F401 - registers the ids

    env = gym.make(f"selfgym/CustomerService-{args.domain}-v0", split=args.split,
                   include_no_change=args.include_no_change)
    tasks = env.unwrapped.task_set()
    scores = {"oracle": 0.0, "silent": 0.0}
    for task in tasks:
        for name in scores:
            env.reset(options={"task": task})
            done = False
            while not done:
                _, reward, terminated, truncated, _ = env.step(env.unwrapped.cheat() if name == "oracle" else "")
                done = terminated or truncated
            scores[name] += reward
    print(f"{args.domain}: {len(tasks)} tasks; oracle success {scores['oracle'] / len(tasks):.3f}, "
          f"silent agent success {scores['silent'] / len(tasks):.3f}")
    return 0 if scores["oracle"] == len(tasks) else 1


def register_cli(sub) -> None:
    """Add ``customer-service export`` and ``customer-service oracle`` to the ``selfgym`` command."""
    parser = sub.add_parser("customer-service", help="tau2 retail/airline customer-service tasks")
    commands = parser.add_subparsers(dest="customer_service_command", metavar="ACTION")
    for name, func, help_text in (("export", _export, "write tasks as JSON lines"),
                                  ("oracle", _oracle, "replay every oracle and a silent agent")):
        p = commands.add_parser(name, help=help_text)
        p.add_argument("--domain", choices=["retail", "airline"], default="retail")
        p.add_argument("--split", choices=["train", "test"], default=None, help="tau2's split (default: all)")
        p.add_argument("--include-no-change", action="store_true",
                       help="also the tasks a silent agent passes (see docs/CUSTOMER_SERVICE.md)")
        if name == "export":
            p.add_argument("--out", required=True, help="the JSON-lines file to write")
        p.set_defaults(func=func)
