"""Command-line flags from a dataclass, CleanRL style: one field, one flag, its docstring the help.

    @dataclass
    class Args:
        steps: int = 20
        \"\"\"GRPO optimiser steps\"\"\"

    args = parse_dataclass(Args, argv, description=__doc__)
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
from typing import Any, TypeVar

T = TypeVar("T")


def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field of a dataclass."""
    body = ast.parse(inspect.getsource(cls)).body[0].body
    return {node.target.id: str(nxt.value.value) for node, nxt in zip(body, body[1:])
            if isinstance(node, ast.AnnAssign) and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)}


def parse_dataclass(cls: type[T], argv: list[str] | None = None, description: str | None = None) -> T:
    """Parse ``--field-name VALUE`` flags (``--flag`` for booleans) into an instance of ``cls``."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        help_text = f"{docs.get(f.name, '')} (default: {f.default})"
        if isinstance(f.default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=help_text)
        else:
            parser.add_argument(flag, type=type(f.default), default=f.default, help=help_text)
    values: dict[str, Any] = vars(parser.parse_args(argv))
    return cls(**values)
