"""``ast.parse`` that is safe to call from any thread: the one place for CPython 3.11's parser race.

CPython 3.11 keeps the AST converter's recursion counter per process, not per thread, so two
threads parsing at once can fail with ``SystemError: AST constructor recursion depth mismatch``
although both sources are fine. Every host-side parse of model output (code extraction, the
checker's prechecks, web and customer-service expressions) goes through :func:`parse`, which
holds one process-wide lock and retries once when a parse outside this module raced it.
"""

from __future__ import annotations

import ast
import threading

_LOCK = threading.Lock()


def parse(source: str) -> ast.Module:
    """``ast.parse(source)`` (a module) under the process-wide parse lock.

    Raises what ``ast.parse`` raises (``SyntaxError``, ``ValueError``, ``RecursionError``,
    ``MemoryError``); a ``SystemError`` only when the retry raced again.
    """
    tree = _parse(source, "exec")
    assert isinstance(tree, ast.Module)
    return tree


def parse_expression(source: str) -> ast.Expression:
    """``ast.parse(source, mode="eval")`` (one expression) under the same lock; raises as ``parse``."""
    tree = _parse(source, "eval")
    assert isinstance(tree, ast.Expression)
    return tree


def _parse(source: str, mode: str) -> ast.AST:
    with _LOCK:
        try:
            return ast.parse(source, mode=mode)
        except SystemError:  # a parse outside this lock left the shared counter off: once more
            return ast.parse(source, mode=mode)
