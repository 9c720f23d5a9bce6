"""The reward stamp: what produced a verdict, so a reward can be traced, reproduced or refused.

``Verdict.stamp`` (and ``info["verdict"]["stamp"]`` of the code envs) holds::

    {"selfgym": "0.1.0", "task_id": "code/reverse-words", "program_sha256": "…",
     "backend": "docker", "image": "selfgym-sandbox:1", "image_id": "sha256:…",
     "runner_sha256": "…", "limits": {"timeout_s": 5.0, "memory_mb": 256, …}}

``program_sha256`` hashes everything that decides the verdict besides the candidate (the
verification code, the entry point, the style, the prelude and the timeout); ``runner_sha256``
hashes the code that runs inside the sandbox; ``limits`` are the limits the job ran under.

A trainer that must not mix rewards from different sandboxes pins what it expects and checks
every verdict: ``check_stamp(info["verdict"], expected)`` raises ``StampMismatch`` (a
``VerifierError``) when a field differs or is missing::

    expected = expected_stamp(sandbox)            # {"image_id": …, "runner_sha256": …, "selfgym": …}
    check_stamp(verdict, expected)
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Callable

from selfgym.errors import VerifierError
from selfgym.types import Task, Verdict
from selfgym.verifiers.pool import _STAMPS

PINNED = ("selfgym", "image_id", "runner_sha256")


class StampMismatch(VerifierError):
    """A verdict was produced by something other than what the caller expects."""


def selfgym_version() -> str:
    try:
        from importlib.metadata import version

        return version("selfgym")
    except Exception:  # noqa: BLE001 - running from a plain checkout
        return "unknown"


def program_hash(task: Task) -> str:
    """sha256 of what verifies ``task`` besides the candidate (see the module doc)."""
    p = task.payload
    keys = ("verification", "entry_point", "style", "prelude", "timeout_s")
    blob = json.dumps({k: p.get(k) for k in keys}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def stamped(task: Task, verify: Callable[[], Verdict]) -> Verdict:
    """Run ``verify()`` and stamp the verdict it returns with the task and the sandbox it used."""
    box: list[dict] = []
    token = _STAMPS.set(box)
    try:
        verdict = verify()
    finally:
        _STAMPS.reset(token)
    stamp: dict[str, Any] = {"selfgym": selfgym_version(), "task_id": task.id, "program_sha256": program_hash(task)}
    stamp.update(box[-1] if box else {"backend": None})
    verdict.stamp = stamp
    return verdict


def expected_stamp(sandbox) -> dict:
    """The pinned fields (selfgym version, image id, sandbox code hash) ``sandbox`` stamps."""
    s = sandbox.stamp()
    return {"selfgym": selfgym_version(), "image_id": s.get("image_id"), "runner_sha256": s.get("runner_sha256")}


def check_stamp(verdict: Verdict | dict, expected: dict) -> None:
    """Raise StampMismatch unless every field in ``expected`` equals the verdict's stamp."""
    stamp = verdict.stamp if isinstance(verdict, Verdict) else (verdict or {}).get("stamp") or {}
    wrong = {k: (stamp.get(k), v) for k, v in expected.items() if stamp.get(k) != v}
    if wrong:
        detail = ", ".join(f"{k}: got {got!r}, expected {want!r}" for k, (got, want) in wrong.items())
        raise StampMismatch(f"verdict stamp does not match ({detail})")
