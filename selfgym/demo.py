"""``selfgym demo``: verify sample solutions in the sandbox and print a table of verdicts.

Six small Python problems, each with assertion tests, and candidates for them: right ones and
planted wrong ones (an off-by-one, a crash, an endless loop, an early ``sys.exit(0)``, an object
whose ``__eq__`` always says yes, a forged pass line). Every verdict comes from the real sandbox.
"""

from __future__ import annotations

import time

PROBLEMS = {
    "reverse_words": (
        "reverse_words",
        "def test_basic(candidate):\n    assert candidate('a b c') == 'c b a'\n\n"
        "def test_one(candidate):\n    assert candidate('hi') == 'hi'\n\n"
        "def test_spaces(candidate):\n    assert candidate('  x   y ') == 'y x'\n",
    ),
    "fizzbuzz": (
        "fizzbuzz",
        "def test_small(candidate):\n    assert candidate(5) == ['1', '2', 'Fizz', '4', 'Buzz']\n\n"
        "def test_fifteen(candidate):\n    assert candidate(15)[-1] == 'FizzBuzz'\n\n"
        "def test_zero(candidate):\n    assert candidate(0) == []\n",
    ),
    "is_prime": (
        "is_prime",
        "def test_small(candidate):\n    assert [n for n in range(20) if candidate(n)] == [2, 3, 5, 7, 11, 13, 17, 19]\n\n"
        "def test_big(candidate):\n    assert candidate(1_000_003) is True\n\n"
        "def test_square(candidate):\n    assert candidate(49) is False\n",
    ),
    "running_sum": (
        "running_sum",
        "def test_basic(candidate):\n    assert candidate([1, 2, 3]) == [1, 3, 6]\n\n"
        "def test_empty(candidate):\n    assert candidate([]) == []\n\n"
        "def test_negative(candidate):\n    assert candidate([5, -5, 2]) == [5, 0, 2]\n",
    ),
    "balanced": (
        "balanced",
        "def test_yes(candidate):\n    assert candidate('([]{})') is True\n\n"
        "def test_no(candidate):\n    assert candidate('(]') is False\n\n"
        "def test_open(candidate):\n    assert candidate('((') is False\n",
    ),
    "word_count": (
        "word_count",
        "def test_basic(candidate):\n    assert candidate('a b a') == {'a': 2, 'b': 1}\n\n"
        "def test_case(candidate):\n    assert candidate('A a') == {'a': 2}\n\n"
        "def test_empty(candidate):\n    assert candidate('') == {}\n",
    ),
}

CANDIDATES = [
    ("reverse_words", "right", "def reverse_words(s):\n    return ' '.join(reversed(s.split()))\n"),
    ("reverse_words", "splits on ' ' (wrong)", "def reverse_words(s):\n    return ' '.join(reversed(s.split(' ')))\n"),
    ("fizzbuzz", "right",
     "def fizzbuzz(n):\n    out = []\n    for i in range(1, n + 1):\n"
     "        out.append('Fizz' * (i % 3 == 0) + 'Buzz' * (i % 5 == 0) or str(i))\n    return out\n"),
    ("fizzbuzz", "off by one (wrong)",
     "def fizzbuzz(n):\n    return ['Fizz' * (i % 3 == 0) + 'Buzz' * (i % 5 == 0) or str(i) for i in range(1, n)]\n"),
    ("is_prime", "right",
     "def is_prime(n):\n    if n < 2:\n        return False\n    i = 2\n    while i * i <= n:\n"
     "        if n % i == 0:\n            return False\n        i += 1\n    return True\n"),
    ("is_prime", "endless loop (wrong)", "def is_prime(n):\n    while True:\n        pass\n"),
    ("running_sum", "right", "import itertools\n\ndef running_sum(xs):\n    return list(itertools.accumulate(xs))\n"),
    ("running_sum", "sys.exit(0) first (forged)", "import sys\nsys.exit(0)\n\ndef running_sum(xs):\n    return xs\n"),
    ("balanced", "right",
     "def balanced(s):\n    pairs, stack = {')': '(', ']': '[', '}': '{'}, []\n    for ch in s:\n"
     "        if ch in '([{':\n            stack.append(ch)\n        elif ch in pairs:\n"
     "            if not stack or stack.pop() != pairs[ch]:\n                return False\n    return not stack\n"),
    ("balanced", "__eq__ always true (forged)",
     "class Yes:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\n\n"
     "def balanced(s):\n    return Yes()\n"),
    ("word_count", "right", "from collections import Counter\n\ndef word_count(s):\n    return dict(Counter(s.lower().split()))\n"),
    ("word_count", "prints fake passes (forged)",
     "import os\n\ndef word_count(s):\n    print('PASSED ' * 10)\n    os._exit(0)\n"),
]


def run_demo(backend: str = "auto") -> list[dict]:
    """Verify every candidate; returns one row per candidate."""
    from selfgym.verifiers import Limits, get_sandbox
    from selfgym.verifiers.checker import run_tests

    sandbox = get_sandbox(backend, limits=Limits(timeout_s=2.0))
    rows = []
    try:
        sandbox.warm()
        sandbox.run({"warm.py": "pass"}, ["python3", "warm.py"])  # the first container, outside the timings
        for problem, label, code in CANDIDATES:
            entry, tests = PROBLEMS[problem]
            t0 = time.perf_counter()
            v = run_tests(code, tests, entry_point=entry, sandbox=sandbox)
            rows.append({"problem": problem, "candidate": label, "verdict": v,
                         "ms": (time.perf_counter() - t0) * 1000, "backend": sandbox.name})
    finally:
        sandbox.close()
    return rows


def register_cli(sub) -> None:
    p = sub.add_parser("demo", help="verify sample solutions (right and planted wrong) in the sandbox")
    p.add_argument("--backend", default=None, choices=["auto", "docker", "process"],
                   help="sandbox backend (default: $SELFGYM_SANDBOX or auto)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    import os

    from rich.console import Console
    from rich.table import Table

    from selfgym.errors import SandboxError

    backend = args.backend or os.environ.get("SELFGYM_SANDBOX", "auto")
    console = Console(width=140)
    try:
        rows = run_demo(backend)
    except SandboxError as exc:
        console.print(f"[red]sandbox unavailable:[/red] {exc}")
        return 1
    table = Table(title=f"selfgym demo: {len(rows)} candidates verified in the {rows[0]['backend']} sandbox")
    for col in ("problem", "candidate", "verdict", "checks passed", "ms"):
        table.add_column(col, justify="right" if col in ("checks passed", "ms") else "left", no_wrap=True)
    table.add_column("why", no_wrap=True, overflow="ellipsis", max_width=56)
    for r in rows:
        v = r["verdict"]
        status = "[green]pass[/green]" if v.passed else ("[yellow]infra error[/yellow]" if v.is_infra_error else "[red]fail[/red]")
        n_ok = sum(c.passed for c in v.checks)
        table.add_row(r["problem"], r["candidate"], status, f"{n_ok}/{len(v.checks)}", f"{r['ms']:.0f}",
                      (v.error or "").split(": ", 1)[-1])
    console.print(table)
    wrong_passed = [r for r in rows if r["candidate"] != "right" and r["verdict"].passed]
    right_failed = [r for r in rows if r["candidate"] == "right" and not r["verdict"].passed]
    console.print(f"right solutions passed: {sum(1 for r in rows if r['candidate'] == 'right') - len(right_failed)}"
                  f"/{sum(1 for r in rows if r['candidate'] == 'right')}; planted wrong ones caught: "
                  f"{sum(1 for r in rows if r['candidate'] != 'right') - len(wrong_passed)}"
                  f"/{sum(1 for r in rows if r['candidate'] != 'right')}")
    return 0 if not wrong_passed and not right_failed else 1
