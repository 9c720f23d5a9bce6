"""The data every part of selfgym passes around: Task, Verdict, Step and Episode.

All four are plain dataclasses that round-trip through JSON (``to_dict`` / ``from_dict``) and
JSON lines (``dump_jsonl`` / ``load_jsonl``), so tasks can be files, trajectories can be
datasets, and nothing depends on pickling.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from selfgym.errors import TaskError, VerifierError


# --------------------------------------------------------------------------------------- Task
@dataclass
class Task:
    """One thing to practise: data, not code.

    Attributes:
        id: unique within its family, stable across versions (``"code/reverse-words"``).
        family: the env family that understands ``payload`` (``"code"``, ``"negotiation"``...).
        prompt: the instruction an agent reads first.
        payload: family-specific data (tests, contexts, databases, page seeds). JSON only.
        difficulty: named difficulty attributes, numeric where possible (``{"level": 2}``);
            curricula read these.
        source: where the task came from (``"selfgym"``, ``"humaneval"``, ``"generated"``...).
        license: the licence of the task's data, where it is not the project's own.
        metadata: anything else worth keeping (author, creation time, parent task).
    """

    id: str
    family: str
    prompt: str
    payload: dict[str, Any] = field(default_factory=dict)
    difficulty: dict[str, Any] = field(default_factory=dict)
    source: str = "selfgym"
    license: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Task":
        """Build a Task from a dict, with an error that names a missing or unknown key."""
        if not isinstance(data, dict):
            raise TaskError(f"a task must be a JSON object, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        missing = [k for k in ("id", "family", "prompt") if k not in data]
        if missing:
            raise TaskError(f"task is missing required field(s) {missing}; it has {sorted(data)}")
        unknown = sorted(set(data) - names)
        if unknown:
            raise TaskError(f"task {data.get('id')!r} has unknown field(s) {unknown}; allowed: {sorted(names)}")
        return cls(**data)

    @classmethod
    def coerce(cls, value: "Task | dict[str, Any]") -> "Task":
        """Accept a Task or its dict form (what ``reset(options={"task": ...})`` receives)."""
        return value if isinstance(value, Task) else cls.from_dict(value)


# ------------------------------------------------------------------------------------ Verdict
class Status(str, enum.Enum):
    """How a verification ended.

    ``OK``: the candidate passed. ``TASK_FAILURE``: the candidate is at fault (wrong answer,
    crash, timeout, limit exceeded) and the reward is meaningful. ``INFRA_ERROR``: *we* failed
    (engine down, image missing, runner died): the reward means nothing and must not be used.
    """

    OK = "ok"
    TASK_FAILURE = "task_failure"
    INFRA_ERROR = "infra_error"


@dataclass
class CheckResult:
    """One check inside a verdict: its name, whether it passed, and why not."""

    name: str
    passed: bool
    message: str = ""
    score: float | None = None
    expected: Any = None
    got: Any = None


@dataclass
class Verdict:
    """The outcome of verifying one candidate.

    Attributes:
        reward: the scalar for RL (NaN only for masked infrastructure errors).
        passed: True when every check passed.
        status: see ``Status``.
        checks: per-check results, in order.
        timings: seconds by phase (``{"sandbox": 0.004, "total": 0.006}``).
        error: a short human-readable reason when not passed.
        stamp: what produced the verdict, so a reward can be traced and reproduced: selfgym
            version, task id and hash of its verification program, sandbox backend, image id,
            limits and the sandbox code's hash (``selfgym.verifiers.stamp``). Empty when unknown.
    """

    reward: float
    passed: bool
    status: Status = Status.OK
    checks: list[CheckResult] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    stamp: dict[str, Any] = field(default_factory=dict)

    @property
    def is_infra_error(self) -> bool:
        return self.status == Status.INFRA_ERROR

    @property
    def fraction_passed(self) -> float:
        return sum(c.passed for c in self.checks) / len(self.checks) if self.checks else float(self.passed)

    @classmethod
    def infra_error(cls, error: str, timings: dict[str, float] | None = None) -> "Verdict":
        return cls(reward=math.nan, passed=False, status=Status.INFRA_ERROR, error=error, timings=timings or {})

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["status"] = self.status.value
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Verdict":
        data = dict(data)
        data["status"] = Status(data.get("status", "ok"))
        data["checks"] = [CheckResult(**c) for c in data.get("checks", [])]
        data["stamp"] = dict(data.get("stamp") or {})
        return cls(**data)


ON_INFRA_ERROR = ("raise", "mask")


def resolve_reward(verdict: Verdict, on_infra_error: str = "raise") -> tuple[float, bool]:
    """Turn a verdict into ``(reward, reward_valid)`` under the infra-error policy.

    An infrastructure error is never a reward of 0: with ``"raise"`` it raises VerifierError;
    with ``"mask"`` it gives ``(nan, False)`` so a trainer can drop the sample.
    """
    if on_infra_error not in ON_INFRA_ERROR:
        from selfgym.errors import ConfigError

        raise ConfigError(f"on_infra_error must be one of {ON_INFRA_ERROR}, got {on_infra_error!r}")
    if verdict.is_infra_error:
        if on_infra_error == "raise":
            raise VerifierError(
                f"verification failed for infrastructure reasons: {verdict.error}. "
                "Pass on_infra_error='mask' to get a NaN reward and info['reward_valid']=False instead."
            )
        return math.nan, False
    return float(verdict.reward), True


# ------------------------------------------------------------------------ Step and Episode
@dataclass
class Step:
    """One agent turn: what it saw, what it did, and what came back.

    ``token_ids`` and ``logprobs`` are the completion's, where the backend returned them, so
    trainers never re-tokenise. ``prompt_token_ids`` likewise for the prompt.
    """

    observation: str
    action: str
    reward: float
    terminated: bool = False
    truncated: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    token_ids: list[int] | None = None
    logprobs: list[float] | None = None
    prompt_token_ids: list[int] | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Step":
        return cls(**data)


@dataclass
class Episode:
    """A whole episode on one env: its steps and the totals a summary needs."""

    env_id: str
    task_id: str | None = None
    seed: int | None = None
    steps: list[Step] = field(default_factory=list)
    agent: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def total_reward(self) -> float:
        return float(sum(s.reward for s in self.steps))

    @property
    def success(self) -> bool:
        """True when the last step's verdict passed (or, without one, the reward is positive)."""
        if not self.steps:
            return False
        verdict = self.steps[-1].info.get("verdict")
        if isinstance(verdict, dict) and "passed" in verdict:
            return bool(verdict["passed"])
        if isinstance(verdict, Verdict):
            return verdict.passed
        return self.total_reward > 0

    def to_dict(self) -> dict[str, Any]:
        d = to_jsonable(dataclasses.asdict(self))
        d["total_reward"] = self.total_reward
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Episode":
        data = {k: v for k, v in data.items() if k != "total_reward"}
        data["steps"] = [Step.from_dict(s) for s in data.get("steps", [])]
        return cls(**data)


# ---------------------------------------------------------------------------- JSON lines
def to_jsonable(value: Any) -> Any:
    """Convert dataclasses, enums, numpy values and tuples into JSON-ready builtins."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "to_dict"):
            return to_jsonable(value.to_dict())
        return to_jsonable(dataclasses.asdict(value))
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy arrays and scalars
        return value.tolist()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def dump_jsonl(records: Iterable[Any], path: str | os.PathLike, append: bool = False) -> int:
    """Write records (dataclasses with ``to_dict`` or plain dicts) as JSON lines; returns count."""
    n = 0
    with open(path, "a" if append else "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(to_jsonable(r), ensure_ascii=False) + "\n")
            n += 1
    return n


def iter_jsonl(path: str | os.PathLike) -> Iterator[dict[str, Any]]:
    """Yield one dict per non-empty line; a bad line raises TaskError naming file and line."""
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise TaskError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc


def load_jsonl(path: str | os.PathLike, cls: type | None = None) -> list[Any]:
    """Read JSON lines, building ``cls.from_dict`` objects when ``cls`` is given."""
    rows = list(iter_jsonl(path))
    return [cls.from_dict(r) for r in rows] if cls is not None else rows


def load_tasks(path: str | os.PathLike) -> list[Task]:
    """Load a JSON-lines task file."""
    return load_jsonl(path, Task)
