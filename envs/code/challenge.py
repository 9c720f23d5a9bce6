"""``selfgym/CodeChallenge-v0``: the challenger's env of the self-challenging loop.

Observation: a brief (a topic, a difficulty level, worked examples of good tasks in the proposal
form). Action: a proposed Code-as-Task task (``proposal.parse_proposal``, or the typed
``propose_task`` action). The env validates it in the sandbox (``validate.validate_task``) and
pays its validity (1 or 0). No policy runs inside a step: the learnability reward 4p(1-p), which
needs a solver's pass rate p, is paid by the self-challenging loop
(``selfgym.agents.self_challenging``), which solves every round's valid tasks in one batch.

A valid proposal that is new (not an example from the brief, not already pooled) goes into the
env's TaskPool, which ``CodeTask-v0(source=pool)`` draws from, unless ``add_to_pool=False`` (the
loop then adds the tasks it keeps). ``info`` carries the validation report, the parsed task,
``valid`` and ``added``. With ``max_attempts > 1`` an invalid proposal gets the validator's
reasons and may be revised.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from selfgym.actions import ActionSet
from selfgym.errors import ConfigError, TaskError
from selfgym.textenv import Outcome, TextEnv
from selfgym.types import CheckResult, Status, Task, Verdict

from selfgym.envs.code.env import check_sandbox, resolve_sandbox
from selfgym.envs.code.pool import TaskPool
from selfgym.envs.code.proposal import ProposalError, format_proposal, parse_proposal
from selfgym.envs.code.sources import load_bundled
from selfgym.envs.code.taskformat import fingerprint
from selfgym.envs.code.validate import ValidationReport, validate_task

FAMILY = "code_challenge"
LEVELS = (1, 2, 3, 4)
SYSTEM_PROMPT = ("You write programming tasks for practice. Each task has an instruction, a function signature, "
                 "a correct solution, test functions that check any candidate, and at least three plausible "
                 "wrong solutions that the tests catch.")


def topics() -> list[str]:
    """The topics of the bundled tasks, in a stable order."""
    return sorted({t.metadata.get("topic", "misc") for t in load_bundled()})


def make_brief(rng: np.random.Generator, topic: str | None = None, level: int | None = None,
               n_examples: int = 1) -> Task:
    """A challenge brief: a topic, a level and bundled example tasks (closest level first)."""
    topic = topic or topics()[int(rng.integers(len(topics())))]
    level = int(level if level is not None else LEVELS[int(rng.integers(len(LEVELS)))])
    pool = [t for t in load_bundled() if t.metadata.get("topic") == topic] or load_bundled()
    order = sorted(range(len(pool)), key=lambda i: (abs(pool[i].difficulty.get("level", 1) - level), rng.random()))
    examples = [pool[i].id for i in order[:n_examples]]
    return Task(id=f"challenge/{topic.replace(' ', '-')}/L{level}/{'+'.join(e.split('/')[-1] for e in examples)}",
                family=FAMILY, prompt=f"Write a new {topic} task of difficulty {level} (1 easy .. 4 hard).",
                payload={"topic": topic, "level": level, "examples": examples},
                difficulty={"level": level, "examples": len(examples)}, source="generated")


def render_brief(brief: Task) -> str:
    by_id = {t.id: t for t in load_bundled()}
    examples = "\n\n".join(f"Example {i + 1}:\n{format_proposal(by_id[e])}" for i, e in enumerate(brief.payload["examples"]))
    return (f"{brief.prompt}\n\n"
            "Write the task in the form of the example below: an <instruction>, the function <signature>, a "
            "correct <solution>, a <verification> made of `def test_<name>(candidate):` functions that assert on "
            "the candidate function, and at least three <failure_case> programs: plausible wrong answers "
            "(off by one, a missed edge case, a wrong type) that the verification must reject. The solution must "
            "pass every check; each failure case must fail at least one. Do not copy the example.\n\n"
            f"{examples}")


def _validity_verdict(report: ValidationReport, reward: float) -> Verdict:
    stages = ["structure", "verification", "solution", "failure_cases"]
    failed_at = stages.index(report.stage) if report.stage in stages else len(stages)
    checks = [CheckResult(name=s, passed=i < failed_at, message="" if i < failed_at else "; ".join(report.problems)[:500])
              for i, s in enumerate(stages) if i <= failed_at]
    return Verdict(reward=reward, passed=report.valid, status=Status.OK if report.valid else Status.TASK_FAILURE,
                   checks=checks, error=None if report.valid else "; ".join(report.problems)[:500])


def propose_task(instruction: str, signature: str, solution: str, verification: str,
                 failure_cases: list[str]) -> str:
    """Propose a new programming task; the sandbox validates every part of it.

    Args:
        instruction: what the function must do, for the solver.
        signature: the function's signature line, e.g. def sum_even(xs: list[int]) -> int
        solution: a correct, complete solution (Python source).
        verification: test functions def test_<name>(candidate): that assert on the candidate.
        failure_cases: three or more plausible wrong solutions the tests must reject.
    """
    cases = "\n".join(f"<failure_case>\n```python\n{c.rstrip()}\n```\n</failure_case>" for c in failure_cases)
    return (f"<instruction>{instruction.strip()}</instruction>\n<signature>{signature.strip()}</signature>\n"
            f"<solution>\n```python\n{solution.rstrip()}\n```\n</solution>\n"
            f"<verification>\n```python\n{verification.rstrip()}\n```\n</verification>\n{cases}")


ACTIONS = ActionSet.text([propose_task], help_text="Or write the task in the tagged form of the brief's example.")


class CodeChallengeEnv(TextEnv):
    """Propose CaT tasks; rewarded for validity. See the module docstring.

    Args:
        pool: the TaskPool valid tasks go into (a fresh one by default; read it as ``env.pool``);
            duplicates of its tasks are refused.
        add_to_pool: add valid new proposals to ``pool`` (False: the caller decides).
        topic / level: fix the brief's topic or level (None: drawn per episode).
        n_examples: example tasks shown in each brief.
        max_attempts: proposals allowed per episode (later ones see the validator's reasons).
        min_failure_cases: failure cases a valid task needs (default 3).
        sandbox / limits / on_infra_error: as for CodeTask-v0.
    """

    family = FAMILY
    system_prompt = SYSTEM_PROMPT
    prompt_template = "selfgym.envs.code.prompting:CodeTemplate"

    def __init__(self, pool: TaskPool | None = None, *, add_to_pool: bool = True, topic: str | None = None,
                 level: int | None = None, n_examples: int = 1, max_attempts: int = 1, min_failure_cases: int = 3,
                 sandbox=None, limits=None, **kwargs: Any):
        super().__init__(**kwargs)
        if max_attempts < 1:
            raise ConfigError(f"max_attempts must be >= 1, got {max_attempts!r}")
        if topic is not None and topic not in topics():
            raise ConfigError(f"topic must be one of {topics()}, got {topic!r}")
        if level is not None and level not in LEVELS:
            raise ConfigError(f"level must be one of {LEVELS}, got {level!r}")
        self.pool = pool if pool is not None else TaskPool()
        self.add_to_pool = bool(add_to_pool)
        self.topic, self.level, self.n_examples = topic, level, int(n_examples)
        self.max_attempts = int(max_attempts)
        self.min_failure_cases = int(min_failure_cases)
        self.sandbox, self.limits = check_sandbox(sandbox), limits
        self.attempt = 0

    def action_set(self) -> ActionSet:
        return ACTIONS

    def task_set(self, n: int | None = None, seed: int = 0) -> list[Task]:
        """One brief per (topic, level), or ``n`` briefs drawn with ``seed``."""
        rng = np.random.default_rng(seed)
        if n is None:
            return [make_brief(rng, t, lv, self.n_examples) for t in topics() for lv in LEVELS]
        return [make_brief(rng, self.topic, self.level, self.n_examples) for _ in range(n)]

    def sample_task(self, rng: np.random.Generator) -> Task:
        return make_brief(rng, self.topic, self.level, self.n_examples)

    def coerce_task(self, value: Any) -> Task:
        task = Task.coerce(value)
        if task.family != FAMILY:
            raise TaskError(f"CodeChallengeEnv needs a brief of family {FAMILY!r}, got {task.family!r}")
        return task

    def begin(self, task: Task) -> str:
        self.attempt = 0
        return render_brief(task)

    def act(self, action: str) -> Outcome:
        brief = self.task
        self.attempt += 1
        last = self.attempt >= self.max_attempts
        info: dict[str, Any] = {"attempt": self.attempt, "added": False, "valid": False}
        try:
            proposal = parse_proposal(action, level=brief.payload["level"], topic=brief.payload["topic"])
        except ProposalError as exc:
            why = f"the proposal cannot be read: {exc}"
            verdict = Verdict(reward=0.0, passed=False, status=Status.TASK_FAILURE,
                              checks=[CheckResult("structure", False, why)], error=why)
            return self._answer(why, verdict, last, info, action_error=why)
        info["proposal"] = proposal.to_dict()
        copied = self._copy_of(proposal, brief)
        if copied:
            why = f"the proposal duplicates the existing task {copied}; write a new one"
            verdict = Verdict(reward=0.0, passed=False, status=Status.TASK_FAILURE,
                              checks=[CheckResult("novelty", False, why)], error=why)
            return self._answer(why, verdict, last, info)
        report = validate_task(proposal, sandbox=resolve_sandbox(self.sandbox), limits=self.limits,
                               min_failure_cases=self.min_failure_cases)
        info["validation"] = report.to_dict()
        if report.infra_error:
            info["valid"] = None
            return Outcome("The sandbox failed while validating (not the proposal's fault); the episode is cut short.",
                           truncated=True, verdict=Verdict.infra_error(report.infra_error), info=info)
        info["valid"] = report.valid
        reward = 1.0 if report.valid else 0.0
        if report.valid and self.add_to_pool:
            info["added"] = self.pool.add(proposal)
            info["task_id_added"] = proposal.id if info["added"] else None
        verdict = _validity_verdict(report, reward)
        if report.valid:
            return Outcome(f"Valid task {proposal.id}.", reward=reward, terminated=True, verdict=verdict, info=info)
        return self._answer(report.summary(), verdict, last, info)

    # ------------------------------------------------------------------ helpers
    def _answer(self, why: str, verdict: Verdict, last: bool, info: dict, action_error: str | None = None) -> Outcome:
        if last:
            return Outcome(f"Invalid proposal. {why}", reward=0.0, terminated=True, verdict=verdict, info=info,
                           action_error=action_error)
        left = self.max_attempts - self.attempt
        return Outcome(f"Invalid proposal. {why}\nRevise it; {left} attempt(s) left.", reward=0.0, verdict=verdict,
                       info=info, action_error=action_error)

    def _copy_of(self, proposal: Task, brief: Task) -> str | None:
        by_id = {t.id: t for t in load_bundled()}
        fp = fingerprint(proposal)
        for e in brief.payload.get("examples", []):
            ex = by_id.get(e)
            if ex is not None and (fingerprint(ex) == fp or ex.payload["verification"].strip() == proposal.payload["verification"].strip()):
                return e
        return self.pool.contains_content(proposal)

    def cheat(self) -> str:
        """An oracle proposal: a valid task written for the brief's topic (a renamed bundled task)."""
        rng = np.random.default_rng(zlib.crc32(self.task.id.encode()))
        shown = set(self.task.payload.get("examples", []))
        cands = [t for t in load_bundled() if t.metadata.get("topic") == self.task.payload["topic"] and t.id not in shown]
        cands = cands or [t for t in load_bundled() if t.id not in shown]
        src = cands[int(rng.integers(len(cands)))]
        return format_proposal(src)
