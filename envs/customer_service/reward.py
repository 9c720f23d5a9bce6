"""The tau-bench reward: the final database equals the gold one AND every required output was said.

``gold_hash(task)`` replays the task's gold actions on a fresh database with the domain's own
tools and hashes the result (cached per task). ``evaluate(task, db, replies)`` compares the
episode's database hash with it and looks for each required output in the agent's replies to
the user (case-insensitive, thousands separators ignored). Reward 1 when both hold, else 0.

Some gold action lists hold calls that the domain's rules refuse (a lookup with a wrong email, an
exchange of a gift-card order that the card cannot cover): they were recorded that way, and a
refused call changes nothing, so the replay keeps going, as an agent's episode would. Should the
replay itself crash, that is our failure, not the agent's: the verdict is an infrastructure error
(never a reward of 0).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Iterable

from selfgym.envs.customer_service.airline import Airline
from selfgym.envs.customer_service.common import Domain
from selfgym.envs.customer_service.data import load_base_db
from selfgym.envs.customer_service.db import Database
from selfgym.envs.customer_service.retail import Retail
from selfgym.errors import TaskError
from selfgym.tools import Tool, ToolCall, ToolSet
from selfgym.types import CheckResult, Status, Task, Verdict

DOMAIN_CLASSES: dict[str, type[Domain]] = {"retail": Retail, "airline": Airline}
_PROTOTYPES: dict[str, list[Tool]] = {}
_GOLD: dict[tuple[str, str], tuple[str | None, str | None]] = {}


def new_domain(domain: str) -> tuple[Domain, ToolSet]:
    """A fresh episode: the domain object over a new copy-on-write database, and its ToolSet."""
    if domain not in DOMAIN_CLASSES:
        raise TaskError(f"unknown customer-service domain {domain!r}; choose one of {sorted(DOMAIN_CLASSES)}")
    obj = DOMAIN_CLASSES[domain](Database(load_base_db(domain)))
    if domain not in _PROTOTYPES:  # describing tools (signatures, docstrings) is done once per domain
        _PROTOTYPES[domain] = list(ToolSet.from_object(obj))
    return obj, ToolSet(dataclasses.replace(t, fn=getattr(obj, t.fn.__name__)) for t in _PROTOTYPES[domain])


def replay(task: Task) -> tuple[Domain, list[str]]:
    """Run the task's gold actions on a fresh database; returns the domain and any errors."""
    domain, tools = new_domain(task.payload["domain"])
    errors = []
    for action in task.payload["actions"]:
        result = tools.execute(ToolCall(action["name"], dict(action["arguments"])))
        if not result.ok:
            errors.append(f"{action['name']}: {result.error}")
    return domain, errors


def gold_hash(task: Task) -> tuple[str | None, str | None]:
    """(hash of the gold final database, None), or (None, why) when the replay crashed; cached."""
    key = (task.id, repr(task.payload["actions"]))
    if key not in _GOLD:
        try:
            domain, _ = replay(task)
            _GOLD[key] = (domain.db.state_hash(), None)
        except Exception as exc:  # noqa: BLE001 - a crash of our own code or data, reported as infra
            _GOLD[key] = (None, f"{type(exc).__name__}: {exc}")
    return _GOLD[key]


def said(output: str, replies: Iterable[str]) -> bool:
    """True when ``output`` appears in one of the replies (case-insensitive, commas ignored)."""
    needle = output.lower().replace(",", "")
    return any(needle in r.lower().replace(",", "") for r in replies)


def is_no_change(task: Task) -> bool:
    """True when the gold outcome is the untouched database and nothing must be said.

    Under the tau-bench rule a policy that does nothing passes such a task (they test refusals,
    which the rule cannot see), so the envs leave them out unless asked to include them.
    """
    digest, _ = gold_hash(task)
    return digest == Database(load_base_db(task.payload["domain"])).state_hash() and not task.payload["outputs"]


def evaluate(task: Task, db: Database, replies: list[str]) -> Verdict:
    """The verdict of one finished episode (see the module docstring)."""
    start = time.perf_counter()
    expected, error = gold_hash(task)
    if error:
        return Verdict.infra_error(f"replaying the gold actions of {task.id} failed: {error}")
    got = db.state_hash()
    checks = [CheckResult("database", got == expected,
                          "" if got == expected else "the final database differs from the gold one",
                          expected=expected, got=got)]
    for output in task.payload["outputs"]:
        ok = said(output, replies)
        checks.append(CheckResult(f"output:{output}", ok, "" if ok else f"{output!r} was never said to the user"))
    passed = all(c.passed for c in checks)
    failed = [c.message for c in checks if not c.passed]
    return Verdict(reward=1.0 if passed else 0.0, passed=passed,
                   status=Status.OK if passed else Status.TASK_FAILURE, checks=checks,
                   timings={"total": time.perf_counter() - start}, error="; ".join(failed) or None)
