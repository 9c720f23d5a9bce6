"""run_tests and run_io_cases: verdicts, rewards and messages a trainer relies on."""

from __future__ import annotations

import math

import pytest

from selfgym.errors import ConfigError, TaskError, VerifierError
from selfgym.types import Status, resolve_reward
from selfgym.verifiers.checker import discover_tests, run_io_cases, run_tests, same

TESTS = ("def test_basic(candidate):\n    assert candidate('abc') == 'cba'\n\n"
         "def test_empty(candidate):\n    assert candidate('') == ''\n\n"
         "def check(candidate):\n    assert candidate('ab') == 'ba'\n")


def test_right_solution_passes_every_check(sandbox):
    v = run_tests("def rev(s):\n    return s[::-1]\n", TESTS, entry_point="rev", sandbox=sandbox)
    assert (v.passed, v.status, v.reward) == (True, Status.OK, 1.0)
    assert [c.name for c in v.checks] == ["test_basic", "test_empty", "check"]
    assert v.timings["total"] >= v.timings["sandbox"] > 0


def test_partial_credit_and_messages(sandbox):
    v = run_tests("def rev(s):\n    return s\n", TESTS, entry_point="rev", sandbox=sandbox)
    assert v.status == Status.TASK_FAILURE and not v.passed
    assert v.reward == pytest.approx(1 / 3)
    assert [c.passed for c in v.checks] == [False, True, False]
    assert "assert candidate('abc') == 'cba'" in v.checks[0].message
    assert v.error.startswith("test_basic:")


def test_named_subset_in_given_order(sandbox):
    v = run_tests("def rev(s):\n    return s[::-1]\n", TESTS, entry_point="rev", tests=["check", "test_basic"], sandbox=sandbox)
    assert [c.name for c in v.checks] == ["check", "test_basic"] and v.passed


def test_humaneval_style_check_with_helpers_and_exceptions(sandbox):
    tests = ("import math\n\ndef check(candidate):\n    assert math.isclose(candidate(2.0), 1.4142135, rel_tol=1e-6)\n"
             "    try:\n        candidate(-1.0)\n    except ValueError:\n        pass\n    else:\n        assert False, 'no error'\n")
    good = "import math\n\ndef root(x):\n    if x < 0:\n        raise ValueError('negative')\n    return math.sqrt(x)\n"
    assert run_tests(good, tests, entry_point="root", sandbox=sandbox).passed
    v = run_tests("import math\n\ndef root(x):\n    return math.sqrt(abs(x))\n", tests, entry_point="root", sandbox=sandbox)
    assert not v.passed and "no error" in v.checks[0].message


def test_in_place_mutation_is_replayed(sandbox):
    tests = "def test_sort(candidate):\n    xs = [3, 1, 2]\n    assert candidate(xs) is None\n    assert xs == [1, 2, 3]\n"
    assert run_tests("def sort_in_place(xs):\n    xs.sort()\n", tests, entry_point="sort_in_place", sandbox=sandbox).passed
    assert not run_tests("def sort_in_place(xs):\n    pass\n", tests, entry_point="sort_in_place", sandbox=sandbox).passed


def test_candidate_output_fed_back_as_input(sandbox):
    tests = "def test_twice(candidate):\n    assert candidate(candidate((1, 2))) == (1, 2)\n"
    assert run_tests("def flip(p):\n    return (p[1], p[0])\n", tests, entry_point="flip", sandbox=sandbox).passed


def test_syntax_error_and_missing_entry_point(sandbox):
    v = run_tests("def rev(s) return s", TESTS, entry_point="rev", sandbox=sandbox)
    assert v.status == Status.TASK_FAILURE and v.reward == 0 and "syntax error" in v.error
    v = run_tests("def other(s):\n    return s\n", TESTS, entry_point="rev", sandbox=sandbox)
    assert v.reward == 0 and "does not define rev()" in v.checks[0].message


def test_crash_at_import(sandbox):
    v = run_tests("raise RuntimeError('boom')\n", TESTS, entry_point="rev", sandbox=sandbox)
    assert v.reward == 0 and "RuntimeError: boom" in v.error


def test_task_errors_are_raised_not_scored():
    with pytest.raises(TaskError, match="does not parse"):
        run_tests("def f(): pass", "def test_x(candidate) pass", entry_point="f")
    with pytest.raises(TaskError, match="no test_"):
        run_tests("def f(): pass", "x = 1", entry_point="f")
    with pytest.raises(TaskError, match=r"does not define \['test_missing'\]"):
        run_tests("def f(): pass", TESTS, entry_point="f", tests=["test_missing"])
    with pytest.raises(ConfigError, match="compare must be one of"):
        run_io_cases("def f(): pass", entry_point="f", cases=[{"args": [], "expected": 1}], compare="fuzzy")


def test_io_cases_compared_on_host(sandbox):
    code = "def stats(xs, scale=1):\n    return {'n': len(xs), 'mean': sum(xs) / len(xs) * scale, 'sorted': tuple(sorted(xs))}\n"
    cases = [{"args": [[3, 1, 2]], "expected": {"n": 3, "mean": 2.0, "sorted": (1, 2, 3)}},
             {"args": [[1, 2]], "kwargs": {"scale": 2}, "expected": {"n": 2, "mean": 3.0, "sorted": (1, 2)}},
             {"args": [[1]], "expected": {"n": 2, "mean": 1.0, "sorted": (1,)}, "name": "wrong_expectation"}]
    v = run_io_cases(code, entry_point="stats", cases=cases, sandbox=sandbox)
    assert [c.passed for c in v.checks] == [True, True, False]
    assert v.checks[2].name == "wrong_expectation" and "expected" in v.checks[2].message
    assert v.checks[0].got == {"n": 3, "mean": 2.0, "sorted": [1, 2, 3]}


def test_io_compare_modes(sandbox):
    v = run_io_cases("def f():\n    return 0.1 + 0.2\n", entry_point="f", cases=[{"args": [], "expected": 0.3}], sandbox=sandbox)
    assert not v.passed
    assert run_io_cases("def f():\n    return 0.1 + 0.2\n", entry_point="f", cases=[{"args": [], "expected": 0.3}],
                        sandbox=sandbox, compare="float").passed
    assert run_io_cases("def f():\n    return [3, 1, 2]\n", entry_point="f", cases=[{"args": [], "expected": [1, 2, 3]}],
                        sandbox=sandbox, compare="unordered").passed


def test_io_exception_is_reported(sandbox):
    v = run_io_cases("def f(x):\n    return 1 // x\n", entry_point="f",
                     cases=[{"args": [1], "expected": 1}, {"args": [0], "expected": 0}], sandbox=sandbox)
    assert [c.passed for c in v.checks] == [True, False]
    assert "ZeroDivisionError" in v.checks[1].message


def test_same_is_strict_about_bool_and_types():
    assert not same(1, 1.0) and same(1, 1.0, "float") and not same(True, 1) and not same("1", 1) and not same(None, 0)
    assert not same((1, [2]), [1, [2]]) and same((1, [2]), (1, [2])) and not same([1, 2], [1, 2, 3])
    assert same(float("nan"), float("nan"), "float") and not same({1: 2}, {1: 3})


def test_discover_tests_in_source_order():
    assert discover_tests(TESTS) == ["test_basic", "test_empty", "check"]


def test_infra_error_is_never_a_zero_reward():
    from selfgym.verifiers import get_sandbox

    sb = get_sandbox("process", pool_size=1)
    sb.close()  # a closed sandbox cannot run anything: our failure, not the candidate's
    v = run_tests("def rev(s):\n    return s[::-1]\n", TESTS, entry_point="rev", sandbox=sb)
    assert v.status == Status.INFRA_ERROR and math.isnan(v.reward)
    with pytest.raises(VerifierError):
        resolve_reward(v)
    assert math.isnan(resolve_reward(v, "mask")[0]) and resolve_reward(v, "mask")[1] is False
