"""``selfgym curriculum compare``: samplers against the simulated learner, as a PNG and a table.

Example::

    selfgym curriculum compare --samplers uniform,learnability,learning_progress --steps 3000 --out runs/cc

writes ``runs/cc/success.png`` (success over time), ``runs/cc/table.md`` and
``runs/cc/results.json``, and prints the table.
"""

from __future__ import annotations

import json
import os


def register_cli(sub) -> None:
    cur = sub.add_parser("curriculum", help="curricula: compare task samplers")
    cur_sub = cur.add_subparsers(dest="curriculum_command", metavar="ACTION")
    p = cur_sub.add_parser("compare", help="run samplers against the simulated learner; write a PNG and a table")
    p.add_argument("--samplers", default="uniform,learnability,learning_progress,head_tail,levels,exit",
                   help="comma-separated sampler names (default: %(default)s)")
    p.add_argument("--steps", type=int, default=3000, help="episodes per run (default: %(default)s)")
    p.add_argument("--seeds", type=int, default=3, help="runs per sampler, seeds 0..N-1 (default: %(default)s)")
    p.add_argument("--eval-every", type=int, default=100, help="episodes between measurements (default: %(default)s)")
    p.add_argument("--tasks", type=int, default=200, help="size of the simulated task set (default: %(default)s)")
    p.add_argument("--too-hard", type=float, default=0.5, help="fraction of tasks out of reach (default: %(default)s)")
    p.add_argument("--out", default="curriculum-compare", help="output folder (default: %(default)s)")
    p.set_defaults(func=_compare)
    cur.set_defaults(func=lambda args: cur.print_help() or 2)


def _compare(args) -> int:
    from selfgym.curricula.compare import SAMPLERS, compare, format_table, write_plot
    from selfgym.curricula.simulated import simulated_tasks

    names = [n.strip() for n in args.samplers.split(",") if n.strip()]
    unknown = [n for n in names if n not in SAMPLERS]
    if unknown or not names:
        print(f"error: unknown sampler(s) {unknown}; choose from {sorted(SAMPLERS)}")
        return 2
    tasks = simulated_tasks(n_tasks=args.tasks, too_hard_fraction=args.too_hard)
    result = compare(names, steps=args.steps, seeds=range(args.seeds), eval_every=args.eval_every, tasks=tasks)
    os.makedirs(args.out, exist_ok=True)
    png = write_plot(result, os.path.join(args.out, "success.png"))
    table = format_table(result)
    with open(os.path.join(args.out, "table.md"), "w", encoding="utf-8") as f:
        f.write(table + "\n")
    with open(os.path.join(args.out, "results.json"), "w", encoding="utf-8") as f:
        json.dump({"steps": result.steps, "rows": result.rows(),
                   "curves": {k: v.tolist() for k, v in result.curves.items()}}, f, indent=1)
    print(table)
    print(f"\nwrote {png}, {os.path.join(args.out, 'table.md')} and {os.path.join(args.out, 'results.json')}")
    return 0
