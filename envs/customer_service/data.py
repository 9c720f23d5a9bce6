"""Loading the tau2-bench retail and airline data that the ``inspect-evals`` package ships.

The files are read at run time from the installed package (never imported: ``inspect_evals``
itself pulls heavy dependencies): ``tau2/data/domains/<domain>/{db.json.gz, policy.txt,
tasks.json, split_tasks.json}``. The data is MIT-licensed (tau2-bench, Sierra Research; packaged
by the UK AI Security Institute's inspect_evals, MIT).

Each tau2 task becomes a selfgym ``Task`` (family ``customer_service``) whose payload holds:
``domain``; ``scenario`` (the user's private instructions: reason for the call, what they know,
what they do not); ``actions`` (the gold tool calls, ``[{"name", "arguments"}]``); ``outputs``
(strings the agent must say); ``split`` (tau2's train/test); and ``nl_assertions`` (kept for
reference, not graded). Tasks are data: ``dump_jsonl`` writes them, ``load_tasks`` reads them back.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import json
from pathlib import Path
from typing import Any

from selfgym.errors import DependencyError, TaskError
from selfgym.types import Task

DOMAINS = ("retail", "airline")
FAMILY = "customer_service"
SOURCE = "tau2-bench (sierra-research/tau2-bench) via the inspect-evals package"
LICENSE = "MIT"
WRITE_TOOLS = {
    "retail": {"cancel_pending_order", "exchange_delivered_order_items", "modify_pending_order_address",
               "modify_pending_order_items", "modify_pending_order_payment", "modify_user_address",
               "return_delivered_order_items"},
    "airline": {"book_reservation", "cancel_reservation", "send_certificate", "update_reservation_baggages",
                "update_reservation_flights", "update_reservation_passengers"},
}


def data_dir(domain: str) -> Path:
    """The folder holding a domain's files inside the installed inspect-evals package."""
    if domain not in DOMAINS:
        raise TaskError(f"unknown customer-service domain {domain!r}; choose one of {list(DOMAINS)}")
    spec = importlib.util.find_spec("inspect_evals")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise DependencyError("inspect-evals", "customer-service", "the tau2 retail and airline data "
                              "(pip install --no-deps inspect-evals also works: only its data files are read)")
    for root in spec.submodule_search_locations:
        folder = Path(root) / "tau2" / "data" / "domains" / domain
        if (folder / "tasks.json").exists():
            return folder
    raise TaskError(f"the installed inspect-evals has no tau2 {domain} data under {list(spec.submodule_search_locations)}")


@functools.lru_cache(maxsize=None)
def load_base_db(domain: str) -> dict[str, dict[str, dict[str, Any]]]:
    """The domain's initial database (cached per process; shared and never to be mutated)."""
    with gzip.open(data_dir(domain) / "db.json.gz", "rt", encoding="utf-8") as f:
        return json.load(f)


@functools.lru_cache(maxsize=None)
def load_policy(domain: str) -> str:
    """The domain's written agent policy."""
    return (data_dir(domain) / "policy.txt").read_text(encoding="utf-8").strip()


def convert_task(domain: str, raw: dict[str, Any], split: str | None = None) -> Task:
    """One tau2 task record -> a selfgym Task (see the module docstring for the payload)."""
    try:
        scenario = raw["user_scenario"]["instructions"]
        criteria = raw["evaluation_criteria"]
        task_id = str(raw["id"])
    except (KeyError, TypeError) as exc:
        raise TaskError(f"tau2 {domain} task is missing {exc}") from exc
    actions = [{"name": a["name"], "arguments": a.get("arguments") or {}} for a in criteria.get("actions") or []]
    outputs = [str(o) for o in criteria.get("communicate_info") or []]
    writes = [a for a in actions if a["name"] in WRITE_TOOLS[domain]]
    scenario = {k: (scenario.get(k) or "").strip() for k in ("reason_for_call", "known_info", "unknown_info", "task_instructions")}
    return Task(
        id=f"{FAMILY}/{domain}/{task_id}",
        family=FAMILY,
        prompt=f"You are the {domain} customer-service agent. Help the customer within the policy.",
        payload={"domain": domain, "scenario": scenario, "actions": actions, "outputs": outputs,
                 "split": split, "nl_assertions": list(criteria.get("nl_assertions") or [])},
        difficulty={"gold_actions": len(actions), "write_actions": len(writes), "outputs": len(outputs),
                    "distinct_tools": len({a["name"] for a in actions})},
        source=SOURCE,
        license=LICENSE,
        metadata={"tau2_id": task_id, "purpose": (raw.get("description") or {}).get("purpose")},
    )


@functools.lru_cache(maxsize=None)
def _load_domain_tasks(domain: str) -> tuple[Task, ...]:
    folder = data_dir(domain)
    raw = json.loads((folder / "tasks.json").read_text(encoding="utf-8"))
    split_of: dict[str, str] = {}
    split_file = folder / "split_tasks.json"
    if split_file.exists():
        splits = json.loads(split_file.read_text(encoding="utf-8"))
        for name in ("train", "test"):
            for tid in splits.get(name, []):
                split_of[str(tid)] = name
    return tuple(convert_task(domain, r, split_of.get(str(r["id"]))) for r in raw)


def load_domain_tasks(domain: str, split: str | None = None) -> list[Task]:
    """Every task of a domain (fresh copies), optionally only tau2's ``"train"`` or ``"test"`` split."""
    if split not in (None, "train", "test"):
        raise TaskError(f"split must be None, 'train' or 'test', got {split!r}")
    return [Task.from_dict(json.loads(json.dumps(t.to_dict()))) for t in _load_domain_tasks(domain)
            if split is None or t.payload["split"] == split]
