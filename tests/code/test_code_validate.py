"""The validator and the verifier, through the real sandbox: every bundled task and every
HumanEval problem is checked end to end, and each way a task can be invalid is named."""

from __future__ import annotations

import pytest

from selfgym.envs.code.humaneval import load_humaneval
from selfgym.envs.code.sources import load_bundled
from selfgym.envs.code.taskformat import from_task, to_task
from selfgym.envs.code.validate import validate_many, validate_task, verify


def _invalid(reports):
    return {r.task_id: r.summary() for r in reports if not r.valid}


def test_every_bundled_task_is_valid_in_the_sandbox(sandbox):
    reports = validate_many(load_bundled(), sandbox=sandbox, max_workers=4)
    assert _invalid(reports) == {}
    for r in reports:
        assert r.solution.passed and r.solution.reward == 1.0
        assert all(not v.passed and v.reward < 1.0 for v in r.failure_cases)


def test_humaneval_canonical_solutions_pass_and_planted_wrong_ones_fail(sandbox):
    tasks = load_humaneval()
    reports = validate_many(tasks, sandbox=sandbox, max_workers=4, probe=False)
    assert len(reports) == 164
    assert _invalid(reports) == {}
    assert all(len(r.failure_cases) == 3 and not any(v.passed for v in r.failure_cases) for r in reports)


def _variant(**changes):
    base = from_task(next(t for t in load_bundled() if t.id == "code/digit-sum"))
    return to_task(base | changes)


def test_a_failure_case_that_passes_is_named(sandbox):
    weak = "def test_basic(candidate):\n    assert candidate(1234) == 10\n"
    report = validate_task(_variant(verification=weak), sandbox=sandbox)
    assert not report.valid and report.stage == "failure_cases"
    assert "failure case 2 passes every check, so the verification does not catch it" in report.problems


def test_a_wrong_solution_is_named(sandbox):
    wrong = "def digit_sum(n: int) -> int:\n    return sum(int(d) for d in str(n))\n"
    report = validate_task(_variant(solution=wrong), sandbox=sandbox)
    assert report.stage == "solution"
    assert report.problems[0].startswith("the example solution fails: test_negative")


def test_a_slow_solution_is_named_as_a_timeout(sandbox):
    slow = "def digit_sum(n: int) -> int:\n    while True:\n        pass\n"
    report = validate_task(_variant(solution=slow, timeout_s=1.0), sandbox=sandbox)
    assert report.stage == "solution"
    assert report.problems[0].startswith("the example solution times out")


def test_a_crashing_verification_is_named(sandbox):
    crash = "LIMIT = undefined_name\n\ndef test_basic(candidate):\n    assert candidate(1) == 1\n"
    report = validate_task(_variant(verification=crash), sandbox=sandbox)
    assert report.stage == "verification"
    assert report.problems == ["the verification code crashes when loaded: NameError: name 'undefined_name' is not defined"]


def test_structure_is_checked_before_anything_runs(sandbox):
    report = validate_task(_variant(failure_cases=["def digit_sum(n):\n    return 0\n"]), sandbox=sandbox)
    assert report.stage == "structure" and report.solution is None
    assert report.problems == ["needs at least 3 distinct failure cases, has 1"]


def test_a_dead_sandbox_is_an_infrastructure_error_not_a_verdict():
    from selfgym.verifiers import get_sandbox

    dead = get_sandbox("process")
    dead.close()
    task = load_bundled()[0]
    report = validate_task(task, sandbox=dead)
    assert not report.valid and report.infra_error and report.problems == []
    verdict = verify(task, task.payload["solution"], sandbox=dead)
    assert verdict.is_infra_error


@pytest.mark.parametrize("code, message", [
    ("def digit_sum(n):\n    return sum(map(int, str(abs(n)))) if n != 0 else 1/0\n", "ZeroDivisionError"),
    ("import sys\ndef digit_sum(n):\n    sys.exit(0)\n", None),
    ("def digit_sum(n):\n    print('x' * 10_000_000)\n    return 0\n", None),
])
def test_misbehaving_candidates_are_task_failures(sandbox, code, message):
    task = _variant()
    verdict = verify(task, code, sandbox=sandbox)
    assert not verdict.passed and not verdict.is_infra_error
    if message:
        assert any(message in c.message for c in verdict.checks)
