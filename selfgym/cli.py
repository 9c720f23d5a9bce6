"""The ``selfgym`` command.

Subcommands live beside the code they drive: each module in ``COMMAND_MODULES`` defines
``register_cli(subparsers)`` adding its own parsers (with ``set_defaults(func=...)``). A module
whose optional dependencies are missing is skipped, so ``selfgym list`` always works.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = (
    "selfgym.cli_list",          # selfgym list
    "selfgym.demo",              # selfgym demo
    "selfgym.verifiers.cli",     # selfgym sandbox build|status
    "selfgym.run_cli",           # selfgym run | report | model
    "selfgym.serve",             # selfgym serve
    "selfgym.executors.cli",     # selfgym serve-env | verifier-serve
    "selfgym.envs.negotiation.cli",  # selfgym selfplay negotiation
    "selfgym.envs.customer_service.cli",  # selfgym customer-service export|oracle
    "selfgym.curricula.cli",     # selfgym curriculum compare
    "selfgym.integrations.cli",  # selfgym train
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="selfgym", description="Gymnasium environments where LLM agents practise and improve themselves.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and (name.startswith(exc.name) or exc.name == name):
                continue  # that part of selfgym is not present
            raise
        module.register_cli(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
