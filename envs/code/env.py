"""``selfgym/CodeTask-v0``: write a Python function; the sandboxed verifier gives the reward.

Observation: the task's instruction and interface; on later turns, the verifier's feedback.
Action: a code answer (markdown fences allowed; the code is extracted). Reward: see
``rewards.py``; paid on the terminal step. Every malformed answer (no code, a syntax error, a
missing function, text that is not UTF-8, an empty string) is feedback plus
``info["action_error"]``, never an exception; it uses up an attempt and scores 0.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from selfgym.actions import ActionSet
from selfgym.errors import ConfigError, TaskError
from selfgym.quoting import QUOTE_PREFIX, quote
from selfgym.textenv import Outcome, TextEnv
from selfgym.types import CheckResult, Status, Task, Verdict

from selfgym.envs.code import rewards
from selfgym.envs.code.extract import extract_code, precheck
from selfgym.envs.code.pool import TaskPool
from selfgym.envs.code.sources import resolve_source
from selfgym.envs.code.taskformat import FAMILY, check_names, to_task, verification_program
from selfgym.envs.code.validate import verify
from selfgym.verifiers.stamp import stamped

FEEDBACK = ("none", "summary", "full")
QUOTE_NOTE = f'(each line starts with "{QUOTE_PREFIX.strip()}"; it may include your program\'s own output)'
_NAMED_SANDBOXES: dict[str, Any] = {}
_NAMED_LOCK = threading.Lock()


def check_sandbox(sandbox: Any) -> Any:
    """Validate a ``sandbox=`` argument: None, a backend name, or an object with ``run``.

    A name (``"docker"``, ``"process"``, ``"auto"``) is kept as given and resolved on first use
    (``resolve_sandbox``), so building an env starts no containers. Anything else is a
    ConfigError at construction, not a crash at the first step.
    """
    from selfgym.verifiers import BACKENDS

    if sandbox is None or (not isinstance(sandbox, str) and callable(getattr(sandbox, "run", None))):
        return sandbox
    if isinstance(sandbox, str):
        if sandbox in BACKENDS:
            return sandbox
        raise ConfigError(f"sandbox must be a Sandbox, None (the shared default) or a backend name "
                          f"{BACKENDS}; got {sandbox!r}")
    raise ConfigError(f"sandbox must be a Sandbox (from selfgym.verifiers.get_sandbox), None or a backend name "
                      f"{BACKENDS}; got a {type(sandbox).__name__}")


def resolve_sandbox(sandbox: Any) -> Any:
    """The Sandbox to verify in: a backend name becomes one process-wide sandbox per name
    (the shared ``default_sandbox()`` when the name is the one it was configured with)."""
    if not isinstance(sandbox, str):
        return sandbox
    import atexit
    import os

    from selfgym.verifiers import ENV_VAR, default_sandbox, get_sandbox

    if sandbox == os.environ.get(ENV_VAR, "auto"):
        return default_sandbox()
    with _NAMED_LOCK:
        sb = _NAMED_SANDBOXES.get(sandbox)
        if sb is None:
            sb = _NAMED_SANDBOXES[sandbox] = get_sandbox(sandbox)
            atexit.register(sb.close)
        return sb
MAX_CODE_CHARS = 100_000

SYSTEM_PROMPT = ("You write correct, self-contained Python 3 functions. Answer with the complete code in "
                 "one ```python block.")


def render_task(task: Task) -> str:
    """The first observation of a code task: instruction, interface and answer format."""
    p = task.payload
    parts = [task.prompt.rstrip()]
    if p.get("style", "tests") != "humaneval" and p.get("signature"):
        parts.append(f"Interface:\n```python\n{p['signature']}\n```")
    n = len(check_names(verification_program(task), p.get("style", "tests")))
    parts.append(f"Answer with the complete function `{p['entry_point']}` in one ```python code block. "
                 f"It will be run against {n} hidden check(s).")
    return "\n\n".join(parts)


def _tail(attempt: int, max_attempts: int) -> str:
    return f"You have {max_attempts - attempt} attempt(s) left. Answer again with the complete corrected code."


def feedback_text(verdict: Verdict, detail: str, attempt: int, max_attempts: int, chars: int) -> str:
    """What the agent reads after an attempt that did not end the episode."""
    tail = _tail(attempt, max_attempts)
    if detail == "none":
        return f"Review your previous answer for mistakes. {tail}"
    failed = [c for c in verdict.checks if not c.passed]
    n = len(verdict.checks)
    head = (f"Attempt {attempt} of {max_attempts}: all {n} checks passed." if not failed else
            f"Attempt {attempt} of {max_attempts}: {len(failed)} of {n} check(s) failed"
            + (f" ({', '.join(c.name for c in failed[:8])}{', ...' if len(failed) > 8 else ''})." if detail == "summary"
               else f". What each reported is quoted below {QUOTE_NOTE}:"))
    body = ""
    if detail == "full" and failed:
        # Check messages can hold the program's own text (exception messages, returned values):
        # each is a quoted block, so none of it can pass for a line of this env's own.
        lines = [f"- {c.name}:\n{quote(c.message or 'failed', max(200, chars))}" for c in failed]
        body = "\n".join(lines)
        if len(body) > chars:
            body = body[: max(0, chars - 40)].rstrip() + f"\n...[feedback cut at {chars} characters]"
        body = "\n" + body
    return f"{head}{body}\n{tail}"


def submit_solution(code: str) -> str:
    """Submit a complete Python solution; the hidden checks run on it.

    Args:
        code: the full Python source defining the requested function.
    """
    return f"```python\n{code.rstrip()}\n```"


ACTIONS = ActionSet.text([submit_solution], help_text="Or answer with the complete code in one ```python block.")


class CodeTaskEnv(TextEnv):
    """Solve a code task with sandboxed verification and optional self-correction turns.

    Args:
        source: "bundled" (default), "humaneval", a path to a CaT .jsonl file, a TaskPool (drawn
            live: the self-challenging loop) or a list of Tasks / CaT records.
        level: only draw tasks whose difficulty level is this (None: any; not with a TaskPool).
        max_attempts: answers allowed per episode (1: single turn; more: self-correction).
        feedback: after a failed attempt, "none" (a generic prompt to review), "summary" (how
            many and which checks failed) or "full" (also each failure's message).
        feedback_chars: cap on the failure messages shown per turn.
        reward_mode: "binary", "fraction", "cocos" or "score" (see ``rewards``).
        score_alpha: the bonus weight of the "score" mode.
        stop_on_pass: end the episode once an attempt passes (default: True, except in "score"
            mode, where every attempt is made).
        sandbox / limits: the sandbox to verify in and its limits: a Sandbox, a backend name
            (``"docker"``, ``"process"``, ``"auto"``; one shared sandbox per name, started at the
            first answer) or None (``default_sandbox()``).
        on_infra_error: "raise" (VerifierError) or "mask" (NaN reward, reward_valid False).
    """

    family = FAMILY
    system_prompt = SYSTEM_PROMPT
    prompt_template = "selfgym.envs.code.prompting:CodeTemplate"

    def __init__(self, source: Any = "bundled", *, level: int | None = None, max_attempts: int = 1,
                 feedback: str = "full", feedback_chars: int = 1500, reward_mode: str = "binary",
                 score_alpha: float = 1.0, stop_on_pass: bool | None = None, sandbox=None, limits=None,
                 **kwargs: Any):
        super().__init__(**kwargs)
        if max_attempts < 1:
            raise ConfigError(f"max_attempts must be >= 1, got {max_attempts!r}")
        if feedback not in FEEDBACK:
            raise ConfigError(f"feedback must be one of {FEEDBACK}, got {feedback!r}")
        self.reward_mode = rewards.check_mode(reward_mode)
        if reward_mode == "score" and max_attempts < 2:
            raise ConfigError("reward_mode='score' rewards a second attempt: set max_attempts >= 2")
        self.source = resolve_source(source)
        if level is not None and isinstance(self.source, TaskPool):
            raise ConfigError("level filters a fixed task list; a TaskPool is drawn live and cannot be filtered")
        if level is not None:
            self.source = [t for t in self.source if t.difficulty.get("level") == level]
            if not self.source:
                raise ConfigError(f"no task in the source has difficulty level {level!r}")
        self.level = level
        self.max_attempts = int(max_attempts)
        self.feedback = feedback
        self.feedback_chars = int(feedback_chars)
        self.score_alpha = float(score_alpha)
        self.stop_on_pass = (reward_mode != "score") if stop_on_pass is None else bool(stop_on_pass)
        self.sandbox = check_sandbox(sandbox)
        self.limits = limits
        self.attempt = 0
        self.scores: list[float] = []

    # ------------------------------------------------------------------ tasks
    def action_set(self) -> ActionSet:
        return ACTIONS

    def task_set(self, n: int | None = None, seed: int = 0) -> list[Task]:
        """The source's tasks (a snapshot of a pool), or ``min(n, len)`` distinct ones drawn with ``seed``."""
        tasks = self.source.tasks() if isinstance(self.source, TaskPool) else list(self.source)
        if n is None:
            return tasks
        if not tasks:
            return []
        rng = np.random.default_rng(seed)
        idx = rng.choice(len(tasks), size=min(int(n), len(tasks)), replace=False)
        return [tasks[int(i)] for i in idx]

    def find_task(self, task_id: str) -> Task:
        """A task by id: from this env's source, else from the bundled set or HumanEval (``humaneval/<n>``)."""
        tasks = self.source.tasks() if isinstance(self.source, TaskPool) else self.source
        for t in tasks:
            if t.id == task_id:
                return t
        others = resolve_source("humaneval") if task_id.startswith("humaneval/") else resolve_source("bundled")
        for t in others:
            if t.id == task_id:
                return t
        raise TaskError(f"no code task with id {task_id!r} in this env's source, the bundled set or HumanEval")

    def sample_task(self, rng: np.random.Generator) -> Task:
        if isinstance(self.source, TaskPool):
            return self.source.sample(rng)
        return self.source[int(rng.integers(len(self.source)))]

    def coerce_task(self, value: Any) -> Task:
        task = value if isinstance(value, Task) else self.find_task(value) if isinstance(value, str) else to_task(value)
        if task.family != FAMILY:
            raise TaskError(f"CodeTaskEnv needs a task of family {FAMILY!r}, got {task.family!r}")
        return task

    # ------------------------------------------------------------------ episode
    def begin(self, task: Task) -> str:
        self.attempt = 0
        self.scores = []
        return render_task(task)

    def act(self, action: str) -> Outcome:
        task = self.task
        self.attempt += 1
        entry = task.payload["entry_point"]
        extraction = extract_code(action, entry)
        error = extraction.note
        problem = None
        if len(extraction.code) > MAX_CODE_CHARS:
            problem = f"the code is {len(extraction.code)} characters long; the limit is {MAX_CODE_CHARS}"
        else:
            problem = precheck(extraction.code, entry)
        if problem:
            error = problem if error is None else f"{error}; {problem}"
            verdict = self._rejected(problem)
        else:
            sandbox = resolve_sandbox(self.sandbox)  # a SandboxError here is an infra verdict (TextEnv.step)
            verdict = stamped(task, lambda: verify(task, extraction.code, sandbox=sandbox, limits=self.limits))
        info = {"attempt": self.attempt, "max_attempts": self.max_attempts, "extraction": extraction.method}
        if verdict.is_infra_error:
            info["turn_scores"] = list(self.scores)
            return Outcome("The verifier failed (an infrastructure error, not your answer's fault). "
                           "The episode is cut short.", truncated=True, verdict=verdict, action_error=error, info=info)
        self.scores.append(rewards.turn_score(verdict, self.reward_mode))
        info["turn_scores"] = list(self.scores)
        done = (verdict.passed and self.stop_on_pass) or self.attempt >= self.max_attempts
        if done:
            reward = rewards.episode_return(self.scores, self.reward_mode, self.score_alpha)
            n = len(verdict.checks)
            if verdict.passed:
                text = f"All {n} checks passed."
            else:
                text = f"Out of attempts: the last answer passed {sum(c.passed for c in verdict.checks)} of {n} checks."
                if problem:
                    text += f"\n{problem}"
            return Outcome(text, reward=reward, terminated=True, verdict=verdict, action_error=error, info=info)
        if problem and self.feedback != "none":
            text = f"Your answer could not be run: {problem}\n{_tail(self.attempt, self.max_attempts)}"
        else:
            text = feedback_text(verdict, self.feedback, self.attempt, self.max_attempts, self.feedback_chars)
        return Outcome(text, reward=0.0, verdict=verdict, action_error=error, info=info)

    def _rejected(self, why: str) -> Verdict:
        """The verdict of an answer that cannot run: every check failed, for ``why``."""
        names = check_names(verification_program(self.task), self.task.payload.get("style", "tests"))
        checks = [CheckResult(name=n, passed=False, message=why) for n in names]
        return Verdict(reward=0.0, passed=False, status=Status.TASK_FAILURE, checks=checks, error=why)

    def cheat(self) -> str:
        """The oracle's action: the task's example solution in a code block."""
        return f"```python\n{self.task.payload['solution'].rstrip()}\n```"
