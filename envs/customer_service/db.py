"""A copy-on-write view of a domain database, with a cheap, exact state hash.

A domain database is a dict of tables (``{"users": {id: record}, "orders": {...}}``) loaded
once per process and never mutated. Each episode gets a ``Database``: reads go to the shared
base, and a write first copies the one record it touches into the episode's overlay. Starting an
episode therefore costs nothing, however large the base.

Two databases built on the same base are in the same state exactly when their overlays hold the
same records after dropping those equal to the base, so ``state_hash()`` hashes only the changed
records (canonical JSON, sorted keys). That is what the reward compares with the hash of the
database the task's gold actions produce.
"""

from __future__ import annotations

import copy
import hashlib
import json
import pickle
from typing import Any, Iterator

Record = dict[str, Any]
Tables = dict[str, dict[str, Record]]


class Database:
    """One episode's database: a shared read-only ``base`` plus this episode's changes.

    Contract for tool code: a record from ``get`` or ``rows`` is read-only; call ``edit`` to get
    the episode's own copy before changing it, and ``insert`` to add a record.
    """

    def __init__(self, base: Tables):
        self.base = base
        self.changes: dict[str, dict[str, Record]] = {}

    def get(self, table: str, key: str) -> Record | None:
        """The current record, or None; do not mutate it (use ``edit``)."""
        changed = self.changes.get(table)
        if changed is not None and key in changed:
            return changed[key]
        return self.base[table].get(key)

    def edit(self, table: str, key: str) -> Record:
        """The episode's own, mutable copy of a record (KeyError when there is none)."""
        changed = self.changes.setdefault(table, {})
        if key not in changed:
            # records are JSON data: a pickle round trip is an exact deep copy, several times faster
            changed[key] = pickle.loads(pickle.dumps(self.base[table][key], pickle.HIGHEST_PROTOCOL))
        return changed[key]

    def insert(self, table: str, key: str, record: Record) -> None:
        """Add (or replace) a record."""
        self.changes.setdefault(table, {})[key] = record

    def __contains__(self, item: tuple[str, str]) -> bool:
        table, key = item
        return key in self.changes.get(table, {}) or key in self.base[table]

    def rows(self, table: str) -> Iterator[Record]:
        """Every current record of a table, in the base's order, then new records."""
        changed = self.changes.get(table, {})
        for key, record in self.base[table].items():
            yield changed.get(key, record)
        for key, record in changed.items():
            if key not in self.base[table]:
                yield record

    def diff(self) -> dict[str, dict[str, Record]]:
        """The records that differ from the base, by table (empty tables left out)."""
        out: dict[str, dict[str, Record]] = {}
        for table, changed in self.changes.items():
            base = self.base[table]
            kept = {k: v for k, v in changed.items() if base.get(k) != v}
            if kept:
                out[table] = kept
        return out

    def state_hash(self) -> str:
        """SHA-256 of the canonical JSON of ``diff()``: equal hashes mean equal databases."""
        text = json.dumps(self.diff(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def snapshot(self) -> Tables:
        """A full, independent copy of the current state (slow: for inspection and tests)."""
        out: Tables = {}
        for table, base in self.base.items():
            merged = {**base, **self.changes.get(table, {})}
            out[table] = copy.deepcopy(merged)
        return out


def full_hash(tables: Tables) -> str:
    """SHA-256 of a whole set of tables (for checking that a base was never mutated)."""
    text = json.dumps(tables, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()
