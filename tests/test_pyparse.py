"""Host-side parsing of model output goes through one place, safe from any thread.

CPython 3.11's AST converter keeps its recursion counter per process: two threads parsing at
once can raise ``SystemError`` for sources that are fine. Rollouts step envs in threads, so
every host-side ``ast.parse`` of model output goes through ``selfgym.pyparse``.
"""

from __future__ import annotations

import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
# the only files that may call ast.parse themselves: the parse helper, and code that runs inside
# the sandbox (harness, runner) or parses the project's own source (argument dataclasses)
ALLOWED = {"selfgym/pyparse.py", "verifiers/harness.py", "verifiers/runner.py", "selfgym/integrations/args.py"}


def test_host_code_parses_only_through_the_one_helper():
    offenders = []
    for folder in ("selfgym", "envs", "agents", "verifiers", "curricula"):
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel not in ALLOWED and re.search(r"\bast\.parse\(", path.read_text(encoding="utf-8")):
                offenders.append(rel)
    assert not offenders, f"parse through selfgym.pyparse.parse instead of ast.parse in {offenders}"


def test_the_helper_raises_what_ast_parse_raises():
    from selfgym import pyparse

    call = pyparse.parse_expression("f(1)").body
    assert isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "f"
    for bad, error in (("def (:", SyntaxError), ("a\0b", (SyntaxError, ValueError))):
        try:
            pyparse.parse(bad)
        except error:
            pass
        else:
            raise AssertionError(f"{bad!r} parsed")
