"""``selfgym list``: every registered id with its family and a one-line description."""

from __future__ import annotations


def register_cli(sub) -> None:
    p = sub.add_parser("list", help="list every registered env id")
    p.add_argument("--family", help="only this family")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from selfgym.registration import catalog

    table = Table(show_lines=False)
    for col in ("id", "family", "kind", "description"):
        table.add_column(col)
    for e in catalog():
        if args.family and e.family != args.family:
            continue
        table.add_row(e.id, e.family, e.kind, e.description)
    Console(width=160).print(table)
    return 0
