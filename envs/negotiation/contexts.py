"""Contexts: a seeded generator under the Deal-or-No-Deal constraints, a loader for the
original file format, and the conversion to and from selfgym Tasks.

The generator draws the total item count (5, 6 or 7) with the shares measured in the original
self-play file of Lewis et al. (2017), ``TOTAL_SHARES``, then a context uniformly among all
valid ones with that total (``all_contexts``). Every generated context satisfies
``rules.constraint_violations``.

The original file (``selfplay.txt``) has one line per player, ``book_count book_value hat_count
hat_value ball_count ball_value``, lines 2i and 2i+1 being the two players of game i.
"""

from __future__ import annotations

import functools
import itertools
import os
import random
from collections.abc import Sequence

import numpy as np
from selfgym.envs.negotiation import prompts, rules
from selfgym.envs.negotiation.rules import Context

from selfgym.errors import TaskError
from selfgym.types import Task

# Shares of pools holding 5, 6 and 7 items among the 4,086 pairs of the original selfplay.txt
# (2,134 / 1,718 / 234 pairs).
TOTAL_SHARES = {5: 0.5223, 6: 0.4205, 7: 0.0573}


def _value_vectors(counts: tuple[int, int, int]) -> list[tuple[int, int, int]]:
    out = []
    for v in itertools.product(range(rules.MAX_VALUE + 1), repeat=3):
        if rules.score(v, counts) == rules.TOTAL_VALUE:
            out.append(v)
    return out


@functools.lru_cache(maxsize=1)
def all_contexts() -> tuple[Context, ...]:
    """Every valid context, in a fixed order (counts, then player 0's values, then player 1's)."""
    found = []
    for counts in itertools.product(range(rules.MIN_COUNT, rules.MAX_COUNT + 1), repeat=3):
        if not rules.MIN_TOTAL <= sum(counts) <= rules.MAX_TOTAL:
            continue
        vectors = _value_vectors(counts)
        for a in vectors:
            for b in vectors:
                if all(x or y for x, y in zip(a, b, strict=False)) and any(x and y for x, y in zip(a, b, strict=False)):
                    found.append(Context(counts, (a, b)))
    return tuple(found)


@functools.lru_cache(maxsize=1)
def _by_total() -> dict[int, tuple[Context, ...]]:
    groups: dict[int, list[Context]] = {}
    for ctx in all_contexts():
        groups.setdefault(sum(ctx.counts), []).append(ctx)
    return {k: tuple(v) for k, v in groups.items()}


_TOTALS = sorted(TOTAL_SHARES)
_CUMULATIVE = np.cumsum([TOTAL_SHARES[t] for t in _TOTALS]) / sum(TOTAL_SHARES.values())


def generate_context(rng: np.random.Generator | random.Random) -> Context:
    """One context: a total drawn with ``TOTAL_SHARES``, then uniform among valid contexts of that total.

    ``rng`` is a NumPy Generator or a ``random.Random`` (what the envs use: cheap to seed).
    """
    u = rng.random()
    total = next((t for t, c in zip(_TOTALS, _CUMULATIVE, strict=False) if u < c), _TOTALS[-1])
    group = _by_total()[total]
    return group[int(rng.integers(len(group))) if hasattr(rng, "integers") else rng.randrange(len(group))]


def load_contexts(path: str | os.PathLike, validate: bool = True) -> list[Context]:
    """Read an original-format context file; a malformed or (when ``validate``) invalid pair
    raises TaskError naming the file and line."""
    with open(path, encoding="utf-8") as f:
        lines = [line.split() for line in f if line.strip()]
    if len(lines) % 2:
        raise TaskError(f"{path}: {len(lines)} non-empty lines; contexts come in pairs of lines")
    out = []
    for i in range(0, len(lines), 2):
        a, b = lines[i], lines[i + 1]
        try:
            if len(a) != 6 or len(b) != 6:
                raise ValueError("each line needs 6 integers")
            a, b = [int(x) for x in a], [int(x) for x in b]
        except ValueError as exc:
            raise TaskError(f"{path}:{i + 1}: expected 'count value count value count value' lines ({exc})") from exc
        if a[0::2] != b[0::2]:
            raise TaskError(f"{path}:{i + 1}: the two players of a pair disagree on the item counts")
        ctx = Context.of(a[0::2], a[1::2], b[1::2])
        if validate:
            bad = rules.constraint_violations(ctx)
            if bad:
                raise TaskError(f"{path}:{i + 1}: invalid context: {'; '.join(bad)}")
        out.append(ctx)
    return out


def context_id(ctx: Context) -> str:
    """A stable id: ``negotiation/c1-2-2/a2-1-3/b0-4-1``."""
    a, b = ctx.values
    return "negotiation/c{}-{}-{}/a{}-{}-{}/b{}-{}-{}".format(*ctx.counts, *a, *b)


def difficulty(ctx: Context) -> dict[str, int]:
    """Numeric difficulty attributes a curriculum can read (a new dict each call)."""
    return dict(_difficulty(ctx))


@functools.lru_cache(maxsize=8192)
def _difficulty(ctx: Context) -> dict[str, int]:
    a, b = ctx.values
    return {
        "total_items": int(sum(ctx.counts)),
        "shared_types": sum(1 for x, y in zip(a, b, strict=False) if x and y),
        "zero_values": sum(1 for x in (*a, *b) if x == 0),
        # Joint value is additive over items: each item is worth most to the player valuing it more.
        "max_joint_score": sum(n * max(x, y) for n, x, y in zip(ctx.counts, a, b, strict=False)),
    }


def to_task(ctx: Context, source: str = "generated", license: str | None = None) -> Task:
    """A Task whose payload is the context (``counts``, ``values``)."""
    return Task(
        id=context_id(ctx),
        family="negotiation",
        prompt=f"Negotiate how to divide {prompts.describe_items(ctx.counts)} with a partner.",
        payload={"counts": list(ctx.counts), "values": [list(ctx.values[0]), list(ctx.values[1])]},
        difficulty=difficulty(ctx),
        source=source,
        license=license,
    )


def from_task(task: Task | dict) -> Context:
    """The context inside a negotiation Task (or its dict form); TaskError if it is not valid."""
    task = Task.coerce(task)
    if task.family != "negotiation":
        raise TaskError(f"a negotiation env needs a negotiation task, got family {task.family!r}")
    try:
        counts, values = task.payload["counts"], task.payload["values"]
        ctx = Context.of(counts, values[0], values[1])
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise TaskError(f"task {task.id!r}: payload needs 'counts' [3 ints] and 'values' [[3 ints], [3 ints]]") from exc
    bad = rules.constraint_violations(ctx)
    if bad:
        raise TaskError(f"task {task.id!r}: invalid context: {'; '.join(bad)}")
    return ctx


@functools.lru_cache(maxsize=8192)
def cached_task(ctx: Context) -> Task:
    """``to_task(ctx)``, shared between calls: for the envs' internal use only, never mutate it."""
    return to_task(ctx)


def task_set(n: int | None = None, seed: int = 0) -> list[Task]:
    """Every valid context as a Task (``n=None``), or ``n`` generated ones from ``seed``."""
    if n is None:
        return [to_task(c, source="selfgym") for c in all_contexts()]
    rng = np.random.default_rng(seed)
    return [to_task(generate_context(rng)) for _ in range(int(n))]


def tasks_from_file(path: str | os.PathLike, license: str | None = "CC-BY-NC-4.0") -> list[Task]:
    """Tasks from an original-format file (the Lewis et al. data is CC BY-NC 4.0)."""
    return [to_task(c, source=str(path), license=license) for c in load_contexts(path)]


def check_all(contexts: Sequence[Context]) -> list[tuple[int, list[str]]]:
    """``(index, violations)`` for every context that breaks a constraint."""
    return [(i, bad) for i, c in enumerate(contexts) if (bad := rules.constraint_violations(c))]
