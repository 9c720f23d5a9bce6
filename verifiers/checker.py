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
import base64
import binascii
import functools
import json
import math
import os
import reprlib
import time
from collections import Counter
from typing import Any

from selfgym import pyparse
from selfgym.errors import ConfigError, SandboxError, TaskError
from selfgym.quoting import clean, inline
from selfgym.safejson import JSONError, loads
from selfgym.types import CheckResult, Status, Verdict
from selfgym.verifiers.limits import Limits

HARNESS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "harness.py")
COMPARE_MODES = ("exact", "float", "unordered")
_harness_source: str | None = None
MSG = 300


def _parse(code: str) -> ast.Module:
    return pyparse.parse(code)  # safe from any thread (CPython 3.11's parser race)


def _harness() -> str:
    global _harness_source
    if _harness_source is None:
        with open(HARNESS_PATH, encoding="utf-8") as f:
            _harness_source = f.read()
    return _harness_source


def discover_tests(test_code: str) -> list[str]:
    """Names of the top-level functions called ``test_*`` or ``check``, in source order."""
    return list(_test_functions(test_code)[0])


@functools.lru_cache(maxsize=128)
def _test_functions(test_code: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """The test functions of a test program in source order, and every top-level function it
    defines. Parsed once per distinct program: a task's tests judge many candidates."""
    try:
        tree = _parse(test_code)
    except SyntaxError as exc:
        raise TaskError(f"the test code does not parse: {exc.msg} (line {exc.lineno})") from exc
    defined = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return tuple(n for n in defined if n.startswith("test_") or n == "check"), frozenset(defined)


def run_tests(candidate_code: str, test_code: str, *, entry_point: str, tests: list[str] | None = None,
              sandbox=None, limits: Limits | None = None) -> Verdict:
    """Run assertion-style ``tests`` (default: every ``test_*`` and ``check``) against the candidate.

    Returns one CheckResult per test in order; reward is the fraction passed. See module doc.
    """
    found, defined = _test_functions(test_code)
    names = list(tests) if tests is not None else list(found)
    if not names:
        raise TaskError("the test code defines no test_* or check function; name the tests to run")
    missing = [n for n in names if n not in defined]
    if missing:
        raise TaskError(f"the test code does not define {missing}")
    spec = {"mode": "tests", "names": names, "entry_point": entry_point}
    return _verify(candidate_code, spec, test_code, sandbox, limits, expected=None, compare="exact")


def run_io_cases(candidate_code: str, *, entry_point: str, cases: list[dict], sandbox=None,
                 limits: Limits | None = None, compare: str = "exact") -> Verdict:
    """Call ``entry_point(*args, **kwargs)`` for each case and compare its output with ``expected``.

    ``compare``: ``"exact"``, ``"float"`` (numbers within 1e-6 relative / 1e-9 absolute) or
    ``"unordered"`` (a top-level list or tuple in any order). Every mode is exact about types;
    see ``compare_values`` for the rule.
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


def _verify(candidate_code, spec, test_code, sandbox, limits, expected, compare) -> Verdict:
    t0 = time.perf_counter()
    names = spec["names"]
    try:
        _parse(candidate_code)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as exc:
        msg = inline(getattr(exc, "msg", None) or exc, 200)
        why = f"syntax error: {msg} (line {getattr(exc, 'lineno', None) or '?'})"
        return _failed_all(names, why, {"total": time.perf_counter() - t0})
    if sandbox is None:
        from selfgym.verifiers import default_sandbox

        sandbox = default_sandbox()
    limits = limits or sandbox.limits
    spec = dict(spec, timeout_s=limits.timeout_s)
    job_limits = _with_margin(limits)
    files = {"solution.py": candidate_code, "job.json": json.dumps(spec)}
    harness = getattr(sandbox, "harness_path", None)
    if harness is None:
        files["harness.py"] = _harness()
        harness = "harness.py"
    if test_code is not None:
        files["tests.py"] = test_code
    try:
        res = sandbox.run(files, ["python3", harness], limits=job_limits)
    except SandboxError as exc:
        return Verdict.infra_error(str(exc), {"total": time.perf_counter() - t0})
    timings = {"sandbox": res.wall_s or 0.0, "total": time.perf_counter() - t0}
    report, malformed = read_report(res.stdout, len(names), spec["mode"])
    if report is None:
        why = {"timeout": "time limit exceeded", "memory": "memory limit exceeded",
               "output_limit": "output limit exceeded", "killed": "the checker was killed"}.get(
            res.outcome, f"the checker exited with status {res.exit_code}")
        if res.outcome == "ok" and "MemoryError" in (res.stderr or "")[-500:]:
            why = "memory limit exceeded"
        if malformed and res.outcome == "ok":
            why = malformed
        return _failed_all(names, why, timings)
    checks = []
    for j, c in enumerate(report):
        if spec["mode"] == "tests":
            checks.append(CheckResult(name=names[j], passed=c["passed"] is True, message=clean(c["message"], MSG)))
        else:
            checks.append(_io_check(names[j], c, expected[j], compare))
    passed = all(c.passed for c in checks)
    n_ok = sum(c.passed for c in checks)
    error = None if passed else next(f"{c.name}: {c.message}" for c in checks if not c.passed)[:MSG]
    return Verdict(reward=n_ok / len(checks), passed=passed, status=Status.OK if passed else Status.TASK_FAILURE,
                   checks=checks, timings=timings, error=error)


@functools.lru_cache(maxsize=64)
def _with_margin(limits: Limits) -> Limits:
    """The job's limits: the checks' own time limit plus 2 s for the harness around them."""
    return limits.replace(timeout_s=limits.timeout_s + 2.0)


#: The verdict line's limits: longer, deeper or differently shaped output is a malformed report.
MAX_REPORT_CHARS = 8 << 20
MAX_REPORT_DEPTH = 200
_MARKER = '{"selfgym_harness"'
_TEST_FIELDS = {"passed": (bool,), "message": (str,)}
_IO_FIELDS = {"error": (str, type(None)), "raise": (dict, type(None)), "has_ret": (bool,)}


def read_report(stdout: Any, n_checks: int, mode: str) -> tuple[list[dict] | None, str | None]:
    """The checks of the harness's verdict line in ``stdout``: ``(checks, None)`` or ``(None, why)``.

    Only the last line that starts with the harness marker counts. It is parsed with size and
    depth limits (``selfgym.safejson``) and checked field by field: exactly ``n_checks``
    objects, each with the fields of ``mode`` and their types. Anything else (a line that is
    too long, too deep, not JSON, of the wrong shape) gives ``None`` and a sentence saying why
    (``why`` is None when there is no verdict line at all). Never raises, whatever the sandbox
    printed.
    """
    if isinstance(stdout, (bytes, bytearray)):
        stdout = bytes(stdout).decode("utf-8", errors="replace")
    if not isinstance(stdout, str):
        return None, None
    pos = stdout.rfind("\n" + _MARKER)
    start = pos + 1 if pos != -1 else (0 if stdout.startswith(_MARKER) else -1)
    if start == -1:
        return None, None
    end = stdout.find("\n", start)
    line = stdout[start:end if end != -1 else len(stdout)].rstrip("\r")
    try:
        data = loads(line, max_chars=MAX_REPORT_CHARS, max_depth=MAX_REPORT_DEPTH, what="the checker's report")
    except JSONError as exc:
        return None, f"the checker's report is malformed: {exc}"
    checks = data.get("checks") if isinstance(data, dict) else None
    if not isinstance(checks, list):
        return None, "the checker's report is malformed: it has no list of checks"
    if len(checks) != n_checks:
        return None, f"the checker's report is incomplete: {len(checks)} results for {n_checks} checks"
    fields = _TEST_FIELDS if mode == "tests" else _IO_FIELDS
    for k, c in enumerate(checks):
        if not isinstance(c, dict):
            return None, f"the checker's report is malformed: result {k} is not an object"
        for name, types in fields.items():
            if not isinstance(c.get(name), types):
                return None, f"the checker's report is malformed: result {k} has no valid {name!r}"
    return checks, None


def _failed_all(names: list[str], why: str, timings: dict) -> Verdict:
    checks = [CheckResult(name=n, passed=False, message=why) for n in names]
    return Verdict(reward=0.0, passed=False, status=Status.TASK_FAILURE, checks=checks, timings=timings, error=why)


def _io_check(name: str, c: dict, expected: Any, compare: str) -> CheckResult:
    """One io case from its (already shape-checked) report entry; never raises."""
    if c.get("error"):
        return CheckResult(name, False, clean(c["error"], MSG), expected=expected)
    if c.get("raise"):
        r = c["raise"]
        kind = inline(r.get("type", "Exception"), 60) if isinstance(r.get("type"), str) else "Exception"
        msg = inline(r.get("msg", ""), 200) if isinstance(r.get("msg"), str) else ""
        return CheckResult(name, False, f"raised {kind}: {msg}"[:MSG], expected=expected)
    if not c.get("has_ret"):
        return CheckResult(name, False, "no result", expected=expected)
    try:
        got = decode_value(c.get("ret"))
    except Unreadable as exc:
        return CheckResult(name, False, f"unreadable result: {exc}"[:MSG], expected=expected)
    ok, msg = compare_values(got, expected, compare)
    return CheckResult(name, ok, msg[:MSG], expected=expected, got=_jsonable(got))


# ------------------------------------------------------------------ decoding returned values
#: Deepest value decoded or compared (the harness encodes at most 60 levels).
MAX_VALUE_DEPTH = 64
MAX_INT_DIGITS = 4300  # Python's own int-string limit; longer digit strings are refused, not converted
_CONTAINER_TAGS = ("tuple", "set", "frozenset", "dict", "complex")


class Unreadable(ValueError):
    """A returned value whose encoding is not one the harness produces."""


def decode_value(x: Any, depth: int = 0) -> Any:
    """The value the harness encoded (``harness.encode``), read from untrusted JSON data.

    Exact builtin types only (None, bool, int, float, str, bytes, complex, list, tuple, dict,
    set, frozenset), at most ``MAX_VALUE_DEPTH`` levels, ints of at most ``MAX_INT_DIGITS``
    digits. Anything else raises ``Unreadable`` with the reason; nothing else is raised.
    """
    if depth > MAX_VALUE_DEPTH:
        raise Unreadable(f"the value is nested more than {MAX_VALUE_DEPTH} levels deep")
    t = type(x)
    if x is None or t in (bool, int, float, str):
        return x
    if t is list:
        return [decode_value(v, depth + 1) for v in x]
    if t is not dict or set(x) != {"t", "v"} or type(x["t"]) is not str:
        raise Unreadable(f"a {t.__name__} that is not a tagged value")
    tag, v = x["t"], x["v"]
    try:
        if tag == "int":
            if type(v) is not str or not v.lstrip("-").isdigit() or not v.isascii() or len(v) > MAX_INT_DIGITS + 1:
                raise Unreadable("an int that is not a decimal string of at most "
                                 f"{MAX_INT_DIGITS} digits")
            return int(v)
        if tag == "float":
            if type(v) is not str or len(v) > 40:
                raise Unreadable("a float that is not a short string")
            return float(v)
        if tag == "bytes":
            if type(v) is not str:
                raise Unreadable("bytes that are not a base64 string")
            return base64.b64decode(v, validate=True)
        if tag in _CONTAINER_TAGS and type(v) is not list:
            raise Unreadable(f"a {tag} whose items are not a list")
        if tag == "tuple":
            return tuple(decode_value(i, depth + 1) for i in v)
        if tag == "set":
            return {decode_value(i, depth + 1) for i in v}
        if tag == "frozenset":
            return frozenset(decode_value(i, depth + 1) for i in v)
        if tag == "dict":
            out = {}
            for pair in v:
                if type(pair) is not list or len(pair) != 2:
                    raise Unreadable("a dict entry that is not a [key, value] pair")
                out[decode_value(pair[0], depth + 1)] = decode_value(pair[1], depth + 1)
            return out
        if tag == "complex":
            parts = [decode_value(i, depth + 1) for i in v]
            if len(parts) != 2 or any(type(p) not in (int, float) for p in parts):
                raise Unreadable("a complex number that is not two numbers")
            return complex(parts[0], parts[1])
    except Unreadable:
        raise
    except (TypeError, ValueError, OverflowError, binascii.Error) as exc:  # unhashable keys, bad base64...
        raise Unreadable(f"a {tag} that cannot be built ({type(exc).__name__})") from None
    raise Unreadable(f"unknown tag {inline(tag, 40)!r}")


# ------------------------------------------------------------------ comparing values
def compare_values(got: Any, expected: Any, compare: str = "exact") -> tuple[bool, str]:
    """Whether a returned value matches the expected one, and if not, a message saying where.

    The rule (every mode is exact about types; docs/SECURITY.md, "Host-side code"):

    - The returned value must have exactly the expected value's type at every level: a set is
      not a list, a tuple is not a list, ``True`` is not ``1``, ``1.0`` is not ``1``, a subclass
      is not its base. (Values decoded from the sandbox are exact builtins already.)
    - Floats in ``"exact"`` mode are equal when they are the same float: ``-0.0`` is not
      ``0.0``, and NaN matches only an expected NaN. In ``"float"`` mode numbers (int or float,
      never bool) match within 1e-6 relative / 1e-9 absolute; NaN matches only NaN; an int too
      large for a float never matches a float.
    - Inside sets and dict keys, items are matched exactly (with their types), in every mode.
    - ``"unordered"``: a top-level list or tuple matches when its items, each matched exactly,
      are the expected items in any order.
    - Values of any other type, and values nested deeper than ``MAX_VALUE_DEPTH``, never match.

    Never raises, and runs in time about linear in the size of the values.
    """
    try:
        why = _diff(got, expected, compare, "", 0)
    except _Incomparable as exc:
        why = str(exc)
    except Exception as exc:  # noqa: BLE001 - a comparison must end in a verdict, never an exception
        why = f"the values cannot be compared ({type(exc).__name__})"
    return why is None, why or ""


def same(got: Any, expected: Any, compare: str = "exact") -> bool:
    """Whether ``got`` matches ``expected`` under ``compare`` (see ``compare_values``)."""
    return compare_values(got, expected, compare)[0]


_PLAIN = (type(None), bool, str, bytes)


def _diff(got: Any, exp: Any, mode: str, path: str, depth: int) -> str | None:
    where = f" at {path}" if path else ""
    if depth > MAX_VALUE_DEPTH:
        return f"the value is nested more than {MAX_VALUE_DEPTH} levels deep{where}"
    tg, te = type(got), type(exp)
    if tg is not te:
        if mode == "float" and tg in (int, float) and te in (int, float):
            return _number_diff(got, exp, where)
        return f"expected {_a(te)}, got {_a(tg)}{where}: expected {_brief(exp)}, got {_brief(got)}"
    if te in _PLAIN:
        return None if got == exp else f"expected {_brief(exp)}, got {_brief(got)}{where}"
    if te is int:
        return None if got == exp else f"expected {_brief(exp)}, got {_brief(got)}{where}"
    if te is float:
        return _number_diff(got, exp, where) if mode == "float" else (
            None if repr(got) == repr(exp) else f"expected {_brief(exp)}, got {_brief(got)}{where}")
    if te is complex:
        if mode == "float":
            return (_number_diff(got.real, exp.real, where + " (real part)")
                    or _number_diff(got.imag, exp.imag, where + " (imaginary part)"))
        return None if _key(got) == _key(exp) else f"expected {_brief(exp)}, got {_brief(got)}{where}"
    if te in (list, tuple):
        if len(got) != len(exp):
            return f"expected {len(exp)} items, got {len(got)}{where}: expected {_brief(exp)}, got {_brief(got)}"
        if mode == "unordered" and depth == 0:
            if Counter(_key(g, depth) for g in got) == Counter(_key(e, depth) for e in exp):
                return None
            return f"the items differ (in any order): expected {_brief(exp)}, got {_brief(got)}"
        for i, (g, e) in enumerate(zip(got, exp, strict=True)):
            why = _diff(g, e, mode, f"{path}[{i}]", depth + 1)
            if why:
                return why
        return None
    if te in (set, frozenset):
        if {_key(g, depth) for g in got} == {_key(e, depth) for e in exp}:
            return None
        return f"expected {_brief(exp)}, got {_brief(got)}{where}"
    if te is dict:
        gk = {_key(k, depth): k for k in got}
        ek = {_key(k, depth): k for k in exp}
        if gk.keys() != ek.keys():
            want, have = _brief(sorted(map(_brief, exp))), _brief(sorted(map(_brief, got)))
            return f"expected the keys {want}, got {have}{where}"
        for k, key in ek.items():
            why = _diff(got[gk[k]], exp[key], mode, f"{path}[{_brief(key, 30)}]", depth + 1)
            if why:
                return why
        return None
    return f"values of type {te.__name__} cannot be compared{where}"


def _a(t: type) -> str:
    name = t.__name__
    return f"{'an' if name[:1] in 'aeiou' else 'a'} {name}"


def _number_diff(got: Any, exp: Any, where: str) -> str | None:
    """Tolerant comparison of two numbers (int or float, never bool)."""
    if type(got) is int and type(exp) is int:
        return None if got == exp else f"expected {_brief(exp)}, got {_brief(got)}{where}"
    try:
        g, e = float(got), float(exp)
    except OverflowError:
        return f"expected {_brief(exp)}, got {_brief(got)}{where} (an int too large for a float)"
    if math.isnan(g) or math.isnan(e):
        return None if math.isnan(g) and math.isnan(e) else f"expected {_brief(exp)}, got {_brief(got)}{where}"
    if math.isclose(g, e, rel_tol=1e-6, abs_tol=1e-9):
        return None
    return f"expected {_brief(exp)}, got {_brief(got)}{where}"


def _key(x: Any, depth: int = 0) -> Any:
    """A hashable key equal for two values exactly when they are equal with the same types."""
    if depth > MAX_VALUE_DEPTH:
        raise _Incomparable(f"the value is nested more than {MAX_VALUE_DEPTH} levels deep")
    t = type(x)
    if x is None or t in (bool, int, str, bytes):
        return (t.__name__, x)
    if t is float:
        return ("float", repr(x))
    if t is complex:
        return ("complex", repr(x.real), repr(x.imag))
    if t in (list, tuple):
        return (t.__name__, tuple(_key(v, depth + 1) for v in x))
    if t in (set, frozenset):
        return (t.__name__, frozenset(_key(v, depth + 1) for v in x))
    if t is dict:
        return ("dict", frozenset((_key(k, depth + 1), _key(v, depth + 1)) for k, v in x.items()))
    raise _Incomparable(f"values of type {t.__name__} cannot be compared")


class _Incomparable(Exception):
    """A value of a type the comparison rule does not cover (a subclass, a custom object)."""


class _Brief(reprlib.Repr):
    def repr_int(self, x, level):
        if x.bit_length() > 13_000:  # more than ~3,900 digits: never converted to text
            return f"<int of about {int(x.bit_length() * 0.30103)} digits>"
        return super().repr_int(x, level)


_BRIEF = _Brief()
_BRIEF.maxlevel, _BRIEF.maxlist, _BRIEF.maxtuple, _BRIEF.maxset, _BRIEF.maxfrozenset = 4, 8, 8, 8, 8
_BRIEF.maxdict, _BRIEF.maxstring, _BRIEF.maxlong, _BRIEF.maxother = 6, 60, 40, 40


def _brief(value: Any, limit: int = 80) -> str:
    """A short, one-line, never-raising rendering of a value for a message."""
    try:
        text = _BRIEF.repr(value)
    except Exception:  # noqa: BLE001
        text = f"<{type(value).__name__} value>"
    return inline(text if len(text) <= limit else text[: limit - 3] + "...", limit + 40)


def _jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-ready copy of a decoded value (for ``CheckResult.got``), bounded in depth and size."""
    if depth > MAX_VALUE_DEPTH:
        return "<nested too deeply>"
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {_brief(k, 200) if not isinstance(k, str) else k: _jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((_jsonable(v, depth + 1) for v in value), key=_brief)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, complex):
        return [value.real, value.imag]
    if type(value) is int and value.bit_length() > 13_000:
        return _brief(value)
    return value
