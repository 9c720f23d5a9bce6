"""Turn candidate code plus tests into a ``Verdict``, running the candidate only in a sandbox.

Two styles:

- ``run_tests``: assertion-style test functions that take the candidate callable
  (``def test_empty(candidate): assert candidate("") == ""`` or HumanEval's ``check``).
- ``run_io_cases``: input/output cases; the outputs are serialised in the sandbox and compared
  here, in a process that never executes candidate code.

How the candidate is kept from forging its verdict is described in ``harness.py`` and
docs/SECURITY.md. Every candidate failure (wrong answer, syntax error, crash, timeout, memory,
early exit, forged output) is a ``TASK_FAILURE`` verdict with a meaningful reward; only our own
failures (sandbox down after retries) give ``Verdict.infra_error``, whose reward is NaN.
"""

from __future__ import annotations

import ast
import json
import math
import os
import threading
import time
from typing import Any

from selfgym.errors import ConfigError, SandboxError, TaskError
from selfgym.types import CheckResult, Status, Verdict
from selfgym.verifiers.limits import Limits

HARNESS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "harness.py")
COMPARE_MODES = ("exact", "float", "unordered")
_harness_source: str | None = None
MSG = 300
_AST_LOCK = threading.Lock()  # CPython 3.11's parser can raise SystemError when threads race it


def _parse(code: str) -> ast.Module:
    with _AST_LOCK:
        return ast.parse(code)


def _harness() -> str:
    global _harness_source
    if _harness_source is None:
        with open(HARNESS_PATH, encoding="utf-8") as f:
            _harness_source = f.read()
    return _harness_source


def discover_tests(test_code: str) -> list[str]:
    """Names of the top-level functions called ``test_*`` or ``check``, in source order."""
    try:
        tree = _parse(test_code)
    except SyntaxError as exc:
        raise TaskError(f"the test code does not parse: {exc.msg} (line {exc.lineno})") from exc
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and (n.name.startswith("test_") or n.name == "check")]


def run_tests(candidate_code: str, test_code: str, *, entry_point: str, tests: list[str] | None = None,
              sandbox=None, limits: Limits | None = None) -> Verdict:
    """Run assertion-style ``tests`` (default: every ``test_*`` and ``check``) against the candidate.

    Returns one CheckResult per test in order; reward is the fraction passed. See module doc.
    """
    names = list(tests) if tests is not None else discover_tests(test_code)
    if not names:
        raise TaskError("the test code defines no test_* or check function; name the tests to run")
    missing = [n for n in names if n not in set(discover_tests(test_code)) | _defined(test_code)]
    if missing:
        raise TaskError(f"the test code does not define {missing}")
    spec = {"mode": "tests", "names": names, "entry_point": entry_point}
    return _verify(candidate_code, spec, test_code, sandbox, limits, expected=None, compare="exact")


def run_io_cases(candidate_code: str, *, entry_point: str, cases: list[dict], sandbox=None,
                 limits: Limits | None = None, compare: str = "exact") -> Verdict:
    """Call ``entry_point(*args, **kwargs)`` for each case and compare its output with ``expected``.

    ``compare``: ``"exact"`` (equal values; tuples and lists alike, True is not 1), ``"float"``
    (numbers within 1e-6 relative / 1e-9 absolute), ``"unordered"`` (a top-level list in any order).
    """
    if compare not in COMPARE_MODES:
        raise ConfigError(f"compare must be one of {COMPARE_MODES}, got {compare!r}")
    if not cases:
        raise TaskError("run_io_cases needs at least one case")
    from selfgym.verifiers.harness import encode

    enc_cases = []
    for i, case in enumerate(cases):
        if "expected" not in case:
            raise TaskError(f"case {i} has no 'expected' value")
        enc_cases.append({"args": encode(list(case.get("args", []))), "kwargs": encode(dict(case.get("kwargs", {})))})
    names = [case.get("name") or f"case_{i}" for i, case in enumerate(cases)]
    spec = {"mode": "io", "names": names, "entry_point": entry_point, "cases": enc_cases}
    return _verify(candidate_code, spec, None, sandbox, limits, expected=[c["expected"] for c in cases], compare=compare)


def _defined(code: str) -> set[str]:
    return {n.name for n in _parse(code).body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _verify(candidate_code, spec, test_code, sandbox, limits, expected, compare) -> Verdict:
    t0 = time.perf_counter()
    names = spec["names"]
    try:
        _parse(candidate_code)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        why = f"syntax error: {getattr(exc, 'msg', exc)} (line {getattr(exc, 'lineno', '?')})"
        return _failed_all(names, why, {"total": time.perf_counter() - t0})
    if sandbox is None:
        from selfgym.verifiers import default_sandbox

        sandbox = default_sandbox()
    limits = limits or sandbox.limits
    spec = dict(spec, timeout_s=limits.timeout_s)
    files = {"solution.py": candidate_code, "job.json": json.dumps(spec)}
    harness = getattr(sandbox, "harness_path", None)
    if harness is None:
        files["harness.py"] = _harness()
        harness = "harness.py"
    if test_code is not None:
        files["tests.py"] = test_code
    try:
        res = sandbox.run(files, ["python3", harness], limits=limits.replace(timeout_s=limits.timeout_s + 2.0))
    except SandboxError as exc:
        return Verdict.infra_error(str(exc), {"total": time.perf_counter() - t0})
    timings = {"sandbox": res.wall_s or 0.0, "total": time.perf_counter() - t0}
    report = _report(res.stdout)
    if report is None:
        why = {"timeout": "time limit exceeded", "memory": "memory limit exceeded",
               "output_limit": "output limit exceeded", "killed": "the checker was killed"}.get(
            res.outcome, f"the checker exited with status {res.exit_code}")
        if res.outcome == "ok" and "MemoryError" in res.stderr[-500:]:
            why = "memory limit exceeded"
        return _failed_all(names, why, timings)
    checks = []
    for j, c in enumerate(report["checks"][:len(names)]):
        if spec["mode"] == "tests":
            checks.append(CheckResult(name=names[j], passed=bool(c.get("passed")), message=str(c.get("message", ""))[:MSG]))
        else:
            checks.append(_io_check(names[j], c, expected[j], compare))
    if len(checks) != len(names):
        return _failed_all(names, "the checker's report is incomplete", timings)
    passed = all(c.passed for c in checks)
    n_ok = sum(c.passed for c in checks)
    error = None if passed else next(f"{c.name}: {c.message}" for c in checks if not c.passed)[:MSG]
    return Verdict(reward=n_ok / len(checks), passed=passed, status=Status.OK if passed else Status.TASK_FAILURE,
                   checks=checks, timings=timings, error=error)


def _report(stdout: str) -> dict | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith('{"selfgym_harness"'):
            try:
                data = json.loads(line)
            except ValueError:
                return None
            return data if isinstance(data.get("checks"), list) else None
    return None


def _failed_all(names: list[str], why: str, timings: dict) -> Verdict:
    checks = [CheckResult(name=n, passed=False, message=why) for n in names]
    return Verdict(reward=0.0, passed=False, status=Status.TASK_FAILURE, checks=checks, timings=timings, error=why)


def _io_check(name: str, c: dict, expected: Any, compare: str) -> CheckResult:
    from selfgym.verifiers.harness import decode

    if c.get("error"):
        return CheckResult(name, False, str(c["error"])[:MSG], expected=expected)
    if c.get("raise"):
        r = c["raise"]
        return CheckResult(name, False, f"raised {r.get('type', 'Exception')}: {r.get('msg', '')}"[:MSG], expected=expected)
    if not c.get("has_ret"):
        return CheckResult(name, False, "no result", expected=expected)
    try:
        got = decode(c["ret"])
    except (ValueError, KeyError, TypeError) as exc:
        return CheckResult(name, False, f"unreadable result: {exc}", expected=expected)
    ok = same(got, expected, compare)
    msg = "" if ok else f"expected {_brief(expected)}, got {_brief(got)}"
    return CheckResult(name, ok, msg, expected=expected, got=_jsonable(got))


def same(got: Any, expected: Any, compare: str = "exact") -> bool:
    """Compare a decoded output with an expected value (plain data on both sides)."""
    if compare == "unordered" and isinstance(got, (list, tuple)) and isinstance(expected, (list, tuple)):
        if len(got) != len(expected):
            return False
        rest = list(expected)
        for g in got:
            for k, e in enumerate(rest):
                if same(g, e, "exact"):
                    del rest[k]
                    break
            else:
                return False
        return True
    if isinstance(got, bool) or isinstance(expected, bool):
        return type(got) is bool and type(expected) is bool and got == expected
    if isinstance(got, (int, float)) and isinstance(expected, (int, float)):
        if compare == "float":
            return math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-9) or (math.isnan(got) and math.isnan(expected))
        return got == expected
    if isinstance(got, (list, tuple)) and isinstance(expected, (list, tuple)):
        return len(got) == len(expected) and all(same(g, e, compare) for g, e in zip(got, expected))
    if isinstance(got, dict) and isinstance(expected, dict):
        return got.keys() == expected.keys() and all(same(got[k], expected[k], compare) for k in got)
    if isinstance(got, (set, frozenset)) and isinstance(expected, (set, frozenset, list)):
        return set(got) == set(expected)
    if type(got) in (str, bytes, type(None), complex):
        return type(got) is type(expected) and got == expected
    return False


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _jsonable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((_jsonable(v) for v in value), key=repr)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, complex):
        return [value.real, value.imag]
    return value
