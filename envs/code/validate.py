"""The CaT validator: run every part of a code task in the sandbox and say exactly why it is invalid.

A task is valid when, in order:

1. its structure is sound (``taskformat.structural_problems``: fields, parsing, entry point, at
   least three distinct failure cases);
2. the verification loads on its own in the sandbox (a crash at import is "the verification
   crashes", not "the solution fails");
3. the example solution passes every check;
4. every failure case fails at least one check.

Each problem is a sentence in ``ValidationReport.problems``; ``stage`` names the first stage that
failed ("structure", "verification", "solution", "failure_cases") or is "ok". An infrastructure
failure of the sandbox is not a verdict on the task: ``infra_error`` is set and ``valid`` is
False, and callers must not count it against the task (the challenge env resolves it through
``on_infra_error``).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable

from selfgym import safejson
from selfgym.errors import SandboxError
from selfgym.types import Task, Verdict

from selfgym.envs.code.taskformat import (MIN_FAILURE_CASES, candidate_program, check_names, structural_problems,
                                          verification_program)

#: Seconds per verification run when a task does not say (``payload["timeout_s"]``).
DEFAULT_TIMEOUT_S = 5.0
_PROBE = r'''
import json, sys
ns = {"__name__": "selfgym_tests"}
try:
    exec(compile(open("tests.py").read(), "tests.py", "exec"), ns)
except BaseException as exc:
    print(json.dumps({"ok": False, "error": type(exc).__name__ + ": " + str(exc)[:300]}))
    sys.exit(0)
missing = [n for n in json.load(open("names.json")) if not callable(ns.get(n))]
print(json.dumps({"ok": not missing, "error": f"check functions not defined after import: {missing}" if missing else ""}))
'''


@dataclass
class ValidationReport:
    """What the validator found.

    Attributes:
        task_id: the task checked.
        valid: True when every stage passed.
        stage: the first stage that failed, or "ok".
        problems: one sentence per problem, naming the part at fault and why.
        solution: the verdict of the example solution (None if not run).
        failure_cases: one verdict per failure case (None where not run).
        infra_error: set when the sandbox itself failed; the task was not judged.
    """

    task_id: str
    valid: bool
    stage: str
    problems: list[str] = field(default_factory=list)
    solution: Verdict | None = None
    failure_cases: list[Verdict | None] = field(default_factory=list)
    infra_error: str | None = None

    def summary(self) -> str:
        """One paragraph a person (or a challenger model) can act on."""
        if self.valid:
            return f"{self.task_id}: valid ({len(self.failure_cases)} failure cases caught)."
        if self.infra_error:
            return f"{self.task_id}: not judged, the sandbox failed: {self.infra_error}"
        return f"{self.task_id}: invalid at the {self.stage} stage:\n" + "\n".join(f"- {p}" for p in self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id, "valid": self.valid, "stage": self.stage, "problems": list(self.problems),
            "solution": self.solution.to_dict() if self.solution else None,
            "failure_cases": [v.to_dict() if v else None for v in self.failure_cases],
            "infra_error": self.infra_error,
        }


def limits_for(task: Task, sandbox=None, limits=None):
    """The limits a task's verification runs under.

    The task's own ``timeout_s`` wins; else explicit ``limits`` as given; else the sandbox's
    limits with the timeout capped at ``DEFAULT_TIMEOUT_S``.
    """
    from selfgym.verifiers import Limits

    if task.payload.get("timeout_s"):
        base = limits or (sandbox.limits if sandbox is not None else Limits())
        return base.replace(timeout_s=float(task.payload["timeout_s"]))
    if limits is not None:
        return limits
    base = sandbox.limits if sandbox is not None else Limits()
    return base.replace(timeout_s=min(base.timeout_s, DEFAULT_TIMEOUT_S))


def verify(task: Task, code: str, *, sandbox=None, limits=None) -> Verdict:
    """Verify candidate ``code`` against a code task; infra failures come back as infra verdicts."""
    from selfgym.verifiers import default_sandbox
    from selfgym.verifiers.checker import run_tests

    sandbox = sandbox or default_sandbox()
    p = task.payload
    style = p.get("style", "tests")
    program = verification_program(task)
    names = check_names(program, style)
    try:
        return run_tests(candidate_program(task, code), program, entry_point=p["entry_point"],
                         tests=names, sandbox=sandbox, limits=limits_for(task, sandbox, limits))
    except SandboxError as exc:
        return Verdict.infra_error(str(exc))
    except SystemError as exc:  # the parser race outlived selfgym.pyparse's retry: never the code's fault
        return Verdict.infra_error(f"the checker failed on the host: {exc}")


def _probe_verification(task: Task, sandbox, limits) -> str | None:
    """Load the verification alone in the sandbox; the reason it crashes, or None."""
    program = verification_program(task)
    names = check_names(program, task.payload.get("style", "tests"))
    lim = limits_for(task, sandbox, limits)
    res = sandbox.run({"probe.py": _PROBE, "tests.py": program, "names.json": json.dumps(names)},
                      ["python3", "probe.py"], limits=lim)
    if res.outcome == "timeout":
        return f"the verification code does not finish loading within {lim.timeout_s:g}s"
    if res.outcome != "ok":
        return f"the verification code hit a sandbox limit while loading ({res.outcome})"
    for line in reversed(res.stdout.splitlines()[-50:]):
        try:  # the sandbox's output: size and depth limited, never an exception out of the validator
            data = safejson.loads(line, max_chars=1 << 16, max_depth=8, what="the probe's report")
        except safejson.JSONError:
            continue
        if isinstance(data, dict) and isinstance(data.get("ok"), bool):
            return None if data["ok"] else f"the verification code crashes when loaded: {str(data.get('error'))[:400]}"
    return f"the verification code could not be loaded (exit status {res.exit_code}: {res.stderr[-200:].strip()})"


def _describe_failure(verdict: Verdict) -> str:
    failed = [c for c in verdict.checks if not c.passed]
    if not failed:
        return verdict.error or "it did not pass"
    first = failed[0]
    more = f" (and {len(failed) - 1} more check(s))" if len(failed) > 1 else ""
    return f"{first.name}: {first.message}{more}"


def validate_task(task: Task, *, sandbox=None, limits=None, min_failure_cases: int = MIN_FAILURE_CASES,
                  max_workers: int = 1, probe: bool = True) -> ValidationReport:
    """Validate one code task through the sandbox (see the module docstring).

    ``probe=False`` skips loading the verification on its own (stage 2); for trusted task sets
    whose verification is known to load, it saves one sandbox run per task.
    """
    problems = structural_problems(task, min_failure_cases)
    if problems:
        return ValidationReport(task.id, False, "structure", problems)
    from selfgym.verifiers import default_sandbox

    sandbox = sandbox or default_sandbox()
    try:
        crash = _probe_verification(task, sandbox, limits) if probe else None
    except SandboxError as exc:
        return ValidationReport(task.id, False, "verification", infra_error=str(exc))
    if crash:
        return ValidationReport(task.id, False, "verification", [crash])

    codes = [task.payload["solution"]] + list(task.payload["failure_cases"])
    if max_workers > 1:
        with ThreadPoolExecutor(max_workers) as ex:
            verdicts = list(ex.map(lambda c: verify(task, c, sandbox=sandbox, limits=limits), codes))
    else:
        verdicts = [verify(task, c, sandbox=sandbox, limits=limits) for c in codes]
    solution, cases = verdicts[0], verdicts[1:]
    infra = next((v.error for v in verdicts if v.is_infra_error), None)
    if infra:
        return ValidationReport(task.id, False, "solution", solution=solution, failure_cases=cases, infra_error=infra)
    if not solution.passed:
        timeout = any("time limit" in c.message for c in solution.checks)
        why = _describe_failure(solution)
        lead = "the example solution times out" if timeout else "the example solution fails"
        return ValidationReport(task.id, False, "solution", [f"{lead}: {why}"], solution, cases)
    problems = [f"failure case {i + 1} passes every check, so the verification does not catch it"
                for i, v in enumerate(cases) if v.passed]
    if problems:
        return ValidationReport(task.id, False, "failure_cases", problems, solution, cases)
    return ValidationReport(task.id, True, "ok", [], solution, cases)


def validate_many(tasks: Iterable[Task], *, sandbox=None, limits=None, max_workers: int = 4,
                  min_failure_cases: int = MIN_FAILURE_CASES, probe: bool = True) -> list[ValidationReport]:
    """Validate many tasks concurrently against one warm sandbox; reports in input order."""
    tasks = list(tasks)
    with ThreadPoolExecutor(max_workers) as ex:
        return list(ex.map(lambda t: validate_task(t, sandbox=sandbox, limits=limits, probe=probe,
                                                   min_failure_cases=min_failure_cases), tasks))
