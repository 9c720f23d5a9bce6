"""ruff and pyright over the project, against a baseline that may only shrink.

``tests/lint_baseline.json`` holds the counts per rule when the checks were introduced. A count
above its baseline (a new problem) fails; when code is cleaned, lower the number there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASELINE = os.path.join(ROOT, "tests", "lint_baseline.json")


def _baseline(tool: str) -> dict[str, int]:
    with open(BASELINE, encoding="utf-8") as f:
        return json.load(f)[tool]


def _grown(counts: Counter, baseline: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {rule: (n, baseline.get(rule, 0)) for rule, n in sorted(counts.items()) if n > baseline.get(rule, 0)}


def ruff_counts() -> Counter:
    cmd = [shutil.which("ruff")] if shutil.which("ruff") else [sys.executable, "-m", "ruff"]
    out = subprocess.run(cmd + ["check", "--output-format", "json", "--exit-zero", "."], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return Counter(d["code"] or "syntax" for d in json.loads(out.stdout))


def pyright_counts() -> Counter:
    exe = shutil.which("pyright")
    if exe is None:
        pytest.fail("pyright is not installed: pip install -e .[test]")
    out = subprocess.run([exe, "--outputjson"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    report = json.loads(out.stdout)
    return Counter(d.get("rule") or "other" for d in report["generalDiagnostics"] if d["severity"] == "error")


def test_ruff_counts_only_shrink():
    grown = _grown(ruff_counts(), _baseline("ruff"))
    assert not grown, f"new ruff findings (rule: (now, baseline)): {grown}; run `ruff check .`"


def test_pyright_counts_only_shrink():
    grown = _grown(pyright_counts(), _baseline("pyright"))
    assert not grown, f"new pyright errors (rule: (now, baseline)): {grown}; run `pyright`"


def test_the_package_ships_its_type_marker():
    assert os.path.exists(os.path.join(ROOT, "selfgym", "py.typed"))
