"""Integration problems: a seeded generator, a safe answer parser, a sympy checker and the oracle.

Plain functions that ``IntegrationEnv``, the tests and any runner share.

Problems are built backwards: the generator draws an antiderivative ``F`` from term families
(polynomials, trigonometric and exponential terms, logarithms, chain-rule compositions,
integration-by-parts products) and shows ``f = F'``. Any antiderivative is accepted: the checker
differentiates the candidate with sympy and compares it with ``f`` at several points, so
answers that differ by a constant, or are written differently, are all right.

Answers are untrusted text. Before sympy sees one it must pass a whitelist (digits, ``x``,
operators, brackets, a fixed set of function names), it is parsed without evaluation, and
bounds on its nesting depth and on the size of every number it could build are checked, so no
answer can run code or make sympy compute a tower of powers; its derivative is evaluated in
machine precision, so a tower of exponentials overflows at once instead of stalling the step.
"""

from __future__ import annotations

import hashlib
import math
import re

import numpy as np

from selfgym.types import CheckResult, Status, Task, Verdict

LEVELS = (1, 2, 3, 4, 5)
# (number of terms, term families) per level
LEVEL_PLAN = {
    1: ((1, 2), ("poly",)),
    2: ((2, 2), ("poly", "trig", "exp")),
    3: ((2, 3), ("poly", "trig", "exp", "log", "chain")),
    4: ((2, 3), ("trig", "exp", "chain", "parts")),
    5: ((3, 4), ("chain", "parts", "nested")),
}
FUNCTIONS = ("sin", "cos", "tan", "exp", "log", "ln", "sqrt", "asin", "acos", "atan", "sinh", "cosh", "tanh")
CONSTANTS = ("x", "E", "pi", "C")
CHECK_POINTS = (0.37, 0.71, 1.13, 1.58, 2.21)
MAX_ANSWER_CHARS = 600
MAX_NUMBER_BITS = 1024
MAX_DEPTH = 40  # sympy's derivative of a deeper nest costs seconds (about cubic in the depth)


def _sympy():
    import sympy

    return sympy


# ------------------------------------------------------------------------------ generator
def _coef(rng: np.random.Generator) -> int:
    c = int(rng.integers(1, 6))
    return c if rng.random() < 0.75 else -c


def _term(rng: np.random.Generator, family: str):
    """One antiderivative term of ``family``."""
    sp = _sympy()
    x = sp.Symbol("x")
    c, a = _coef(rng), int(rng.integers(1, 5))
    if family == "poly":
        return c * x ** int(rng.integers(1, 6))
    if family == "trig":
        return c * (sp.sin(a * x) if rng.random() < 0.5 else sp.cos(a * x))
    if family == "exp":
        return c * sp.exp(a * x)
    if family == "log":
        return c * (sp.log(x) if rng.random() < 0.5 else sp.log(x ** 2 + a))
    if family == "chain":
        inner = x ** int(rng.integers(2, 4)) + int(rng.integers(0, 4))
        outer = (sp.sin, sp.cos, sp.exp)[int(rng.integers(3))]
        return c * (outer(inner) if rng.random() < 0.6 else inner ** int(rng.integers(2, 4)))
    if family == "parts":
        k = int(rng.integers(1, 3))
        other = (sp.exp(a * x), sp.sin(a * x), sp.cos(a * x), sp.log(x))[int(rng.integers(4))]
        return c * x ** k * other
    if family == "nested":
        f1, f2 = (sp.sin, sp.cos, sp.exp)[int(rng.integers(3))], (sp.sin, sp.cos)[int(rng.integers(2))]
        return c * (f1(f2(a * x)) if rng.random() < 0.5 else x * sp.exp(a * x) * sp.sin(x))
    raise ValueError(f"unknown term family {family!r}")


def generate(rng: np.random.Generator, level: int = 1) -> Task:
    """An integration problem at ``level`` (1..5): more terms and harder techniques as it rises."""
    sp = _sympy()
    level = int(min(max(int(level), 1), 5))
    (lo, hi), families = LEVEL_PLAN[level]
    n_terms = int(rng.integers(lo, hi + 1))
    x = sp.Symbol("x")
    chosen, antiderivative = [], sp.Integer(0)
    while len(chosen) < n_terms:
        family = families[int(rng.integers(len(families)))]
        term = _term(rng, family)
        combined = antiderivative + term
        if combined != 0 and len(sp.Add.make_args(combined)) == len(chosen) + 1:  # a new, distinct term
            chosen.append(family)
            antiderivative = combined
    integrand = sp.diff(antiderivative, x)
    shown = sp.sstr(integrand)
    digest = hashlib.sha1(shown.encode()).hexdigest()[:12]
    prompt = (f"Find an antiderivative F(x) of\n\n    f(x) = {shown}\n\nwith respect to x. Write F in SymPy syntax "
              "(for example 3*x**2 + sin(2*x) - exp(x)/4; use exp(...) for powers of e and log for the natural "
              "logarithm); the constant of integration may be left out. Put the final answer inside "
              "<answer></answer> tags.")
    return Task(
        id=f"integration/L{level}/{digest}",
        family="integration",
        prompt=prompt,
        payload={"integrand": shown, "antiderivative": sp.sstr(antiderivative), "techniques": chosen},
        difficulty={"level": level, "terms": n_terms, "techniques": len(set(chosen)),
                    "integrand_ops": int(sp.count_ops(integrand))},
        source="generated",
    )


# ------------------------------------------------------------------------------ parsing
_TAG = re.compile(r"<answer>(.*?)</answer>", re.S | re.I)
_ALLOWED_CHARS = re.compile(r"^[0-9A-Za-z+\-*/^()., ]*$")
_IDENT = re.compile(r"[A-Za-z]+")
_DECIMAL = re.compile(r"\d*\.\d+|\d+\.?")
_BIG_EXPONENT = re.compile(r"\d\.?[eE][+-]?\d{3}")


def last_tagged(text: str, tag: str = "answer") -> str | None:
    """The content of the last ``<tag>...</tag>`` block (what ``re.findall`` would give last), or None.

    One linear pass over the tags: an opening tag starts a block, the next closing tag ends it,
    openings inside a block are part of its content, and an unclosed block is ignored.
    """
    if not isinstance(text, str):
        return None
    opening, closing = f"<{tag}>", f"</{tag}>"
    last, start = None, None
    for m in re.finditer(f"{re.escape(opening)}|{re.escape(closing)}", text, re.I):
        if m.group().lower() == opening:
            if start is None:
                start = m.end()
        elif start is not None:
            last, start = text[start:m.start()], None
    return last


def extract(text: str) -> str:
    """The answer part of a reply: the last <answer> block, else the last non-empty line."""
    found = last_tagged(text)
    if found is not None:
        candidate = found
    else:
        lines = [ln for ln in text.strip().splitlines() if ln.strip()]
        candidate = lines[-1] if lines else ""
    candidate = candidate.strip().strip("$").strip()
    candidate = re.sub(r"^\s*(F\s*\(\s*x\s*\)|\\int.*?dx|integral)\s*=", "", candidate, flags=re.I)
    candidate = re.sub(r"\+\s*C\s*$", "", candidate.strip())
    return candidate.replace("^", "**").strip().rstrip(".")


def _bits(expr) -> float:
    """An upper bound on the bits of any number evaluating ``expr`` could build."""
    sp = _sympy()
    if expr.is_Integer:
        return float(abs(int(expr)).bit_length())
    if expr.is_Rational:
        return float(abs(int(expr.p)).bit_length() + abs(int(expr.q)).bit_length())
    if expr.is_Float or expr.is_Symbol or expr.is_NumberSymbol:
        return 64.0
    args = [_bits(a) for a in expr.args]
    if isinstance(expr, sp.Pow):
        base, exponent = expr.args
        if exponent.is_Rational:
            return args[0] * max(1.0, abs(float(exponent.p))) + args[1]
        if not exponent.free_symbols:  # a constant exponent as large as 2 ** bits
            return args[0] * 2.0 ** min(args[1], 1000.0) + args[1]
        return sum(args)
    return sum(args) + 1.0


def _depth(expr) -> int:
    """The depth of an expression tree (iterative: no recursion)."""
    deepest, stack = 0, [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth <= MAX_DEPTH:
            stack.extend((arg, depth + 1) for arg in node.args)
    return deepest


_GLOBALS: dict | None = None


def _parser_globals() -> dict:
    """sympy's namespace for the parser's generated code, without Python builtins."""
    global _GLOBALS
    if _GLOBALS is None:
        namespace: dict = {}
        exec("from sympy import *", namespace)  # a fixed import, no user text
        namespace["__builtins__"] = {}
        _GLOBALS = namespace
    return dict(_GLOBALS)


def parse(answer: str):
    """Parse an extracted answer into a sympy expression in ``x``; returns ``(expr, error)``."""
    sp = _sympy()
    from sympy.parsing.sympy_parser import implicit_multiplication_application, parse_expr, standard_transformations

    if not answer:
        return None, "no answer found (put it inside <answer></answer>)"
    if len(answer) > MAX_ANSWER_CHARS:
        return None, f"the answer is longer than {MAX_ANSWER_CHARS} characters"
    if not _ALLOWED_CHARS.match(answer):
        bad = sorted({c for c in answer if not _ALLOWED_CHARS.match(c)})
        return None, f"the answer contains characters that are not allowed: {bad}"
    if "." in _DECIMAL.sub("", answer):
        return None, "a '.' may only appear inside a decimal number"
    if _BIG_EXPONENT.search(answer):  # sympy turns 1e999999 into a number at a cost quadratic in the exponent
        return None, "a number's exponent is too large (write at most two digits after the e)"
    names = set(_IDENT.findall(answer))
    unknown = sorted(n for n in names if n not in FUNCTIONS + CONSTANTS and n != "e")
    if unknown:
        return None, f"unknown names {unknown}; use x and {', '.join(FUNCTIONS)}"
    x = sp.Symbol("x")
    local = {"x": x, "E": sp.E, "e": sp.E, "pi": sp.pi, "C": sp.Integer(0), "ln": sp.log, "log": sp.log}
    local.update({f: getattr(sp, f) for f in FUNCTIONS if f not in local})
    transformations = standard_transformations + (implicit_multiplication_application,)
    try:
        raw = parse_expr(answer, local_dict=local, global_dict=_parser_globals(),
                         transformations=transformations, evaluate=False)
    except Exception as exc:  # noqa: BLE001 - the parser raises many types on malformed text
        return None, f"could not parse the answer: {type(exc).__name__}"
    if not isinstance(raw, sp.Expr):
        return None, "the answer is not a mathematical expression"
    if _depth(raw) > MAX_DEPTH:
        return None, f"the answer is nested more than {MAX_DEPTH} levels deep"
    if _bits(raw) > MAX_NUMBER_BITS:
        return None, "the answer builds numbers that are too large"
    try:
        expr = raw.doit()
    except Exception as exc:  # noqa: BLE001 - sympy's evaluation raises many types on odd input
        return None, f"could not evaluate the answer: {type(exc).__name__}"
    if expr.free_symbols - {x}:
        return None, f"the answer may only use the variable x, found {sorted(map(str, expr.free_symbols - {x}))}"
    return expr, None


# ------------------------------------------------------------------------------ checking
def derivative_matches(candidate, integrand, points=CHECK_POINTS, rel_tol: float = 1e-7) -> tuple[bool, str]:
    """Whether d/dx ``candidate`` equals ``integrand`` at every check point (both sympy exprs)."""
    sp = _sympy()
    x = sp.Symbol("x")
    d = sp.diff(candidate, x)
    try:  # machine-precision evaluation: a tower such as exp(exp(exp(...))) overflows at once instead of
        # sending sympy's arbitrary-precision evalf after a number with billions of digits
        numeric = sp.lambdify(x, d, modules=["cmath", "math"])
    except Exception:  # noqa: BLE001 - e.g. an expression nested too deeply for the generated code
        return False, "the derivative of the answer cannot be evaluated"
    for p in points:
        want = complex(integrand.evalf(subs={x: p}))
        try:
            got = complex(numeric(p))
        except (ArithmeticError, ValueError, TypeError):
            return False, f"the derivative of the answer has no finite numeric value at x={p}"
        except Exception:  # noqa: BLE001 - any other failure of the answer's own expression
            return False, f"the derivative of the answer cannot be evaluated at x={p}"
        if not (math.isfinite(got.real) and math.isfinite(got.imag)):
            return False, f"the derivative of the answer is not finite at x={p}"
        if abs(got - want) > rel_tol * max(1.0, abs(want)):
            return False, f"at x={p} the derivative of the answer is {got.real:.6g}, the integrand is {want.real:.6g}"
    return True, ""


def check(task: Task, text: str) -> tuple[Verdict, str | None]:
    """Verdict for a free-text reply, and an action error when the reply could not be read."""
    sp = _sympy()
    answer = extract(text)
    expr, error = parse(answer)
    if expr is None:
        verdict = Verdict(0.0, False, Status.TASK_FAILURE, [CheckResult("parse", False, error, got=answer)], error=error)
        return verdict, error
    integrand = sp.sympify(task.payload["integrand"], locals={"x": sp.Symbol("x")})
    ok, why = derivative_matches(expr, integrand)
    checks = [CheckResult("parse", True, got=sp.sstr(expr)),
              CheckResult("derivative_matches", ok, why, expected=task.payload["integrand"], got=sp.sstr(expr))]
    return Verdict(1.0 if ok else 0.0, ok, Status.OK if ok else Status.TASK_FAILURE, checks, error=why or None), None


def cheat(task: Task) -> str:
    """The oracle's reply."""
    return f"<answer>{task.payload['antiderivative']}</answer>"
