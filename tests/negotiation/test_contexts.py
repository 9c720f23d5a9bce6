"""Contexts: the generator obeys every constraint and matches the original file's statistics;
the original file loads and every pair in it satisfies the constraints."""

from __future__ import annotations

import collections

import numpy as np
import pytest
from selfgym.envs.negotiation import contexts as C
from selfgym.envs.negotiation import rules

from selfgym.errors import TaskError
from selfgym.types import Task


def test_every_enumerated_context_satisfies_every_constraint():
    every = C.all_contexts()
    assert len(every) == len(set(every)) > 5000
    assert C.check_all(every) == []


def test_generated_contexts_satisfy_every_constraint_and_are_seeded():
    rng = np.random.default_rng(0)
    generated = [C.generate_context(rng) for _ in range(3000)]
    assert C.check_all(generated) == []
    again = [C.generate_context(np.random.default_rng(0)) for _ in range(1)]
    assert again[0] == generated[0]
    assert len(set(generated)) > 1500, "the generator should cover the context space"


def test_original_file_loads_and_every_pair_satisfies_the_constraints(original_file):
    loaded = C.load_contexts(original_file)
    assert len(loaded) == 4086
    assert C.check_all(loaded) == []
    # The generator can produce every context of the original file.
    space = set(C.all_contexts())
    assert all(c in space for c in loaded)


def test_generator_matches_the_original_share_of_each_total(original_file):
    original = collections.Counter(sum(c.counts) for c in C.load_contexts(original_file))
    rng = np.random.default_rng(7)
    generated = collections.Counter(sum(C.generate_context(rng).counts) for _ in range(8000))
    for total in (5, 6, 7):
        want = original[total] / sum(original.values())
        got = generated[total] / sum(generated.values())
        assert abs(got - want) < 0.03, (total, got, want)


def test_loader_names_file_and_line_of_a_bad_pair(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("1 0 1 1 3 3\n1 1 1 0 3 3\n1 5 1 5 3 0\n1 5 1 5 3 0\n")
    with pytest.raises(TaskError, match=r"bad.txt:3: invalid context"):
        C.load_contexts(path)
    assert len(C.load_contexts(path, validate=False)) == 2
    path.write_text("1 0 1 1 3 3\n2 1 1 0 3 3\n")
    with pytest.raises(TaskError, match="disagree on the item counts"):
        C.load_contexts(path)
    path.write_text("1 0 1 1 3\n")
    with pytest.raises(TaskError, match="pairs of lines"):
        C.load_contexts(path)


def test_tasks_round_trip_and_carry_numeric_difficulty():
    tasks = C.task_set(20, seed=3)
    assert tasks == C.task_set(20, seed=3)
    for t in tasks:
        ctx = C.from_task(Task.from_dict(t.to_dict()))
        assert C.to_task(ctx).id == t.id
        assert all(isinstance(v, int) for v in t.difficulty.values())
        assert 5 <= t.difficulty["total_items"] <= 7 and t.difficulty["shared_types"] >= 1
    assert len(C.task_set()) == len(C.all_contexts())


def test_from_task_rejects_other_families_and_invalid_payloads():
    with pytest.raises(TaskError, match="negotiation task"):
        C.from_task(Task(id="x", family="arithmetic", prompt="p"))
    with pytest.raises(TaskError, match="invalid context"):
        C.from_task(Task(id="x", family="negotiation", prompt="p", payload={"counts": [1, 1, 3], "values": [[10, 0, 0], [0, 10, 0]]}))
    with pytest.raises(TaskError, match="payload needs"):
        C.from_task(Task(id="x", family="negotiation", prompt="p", payload={"counts": [1, 1, 3]}))


def test_file_tasks_carry_the_data_licence(original_file):
    tasks = C.tasks_from_file(original_file)
    assert len(tasks) == 4086 and tasks[0].license == "CC-BY-NC-4.0"
    assert rules.constraint_violations(C.from_task(tasks[-1])) == []
