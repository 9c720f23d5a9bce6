"""Every registered PettingZoo env passes PettingZoo's own test suite (AEC and Parallel)."""

from __future__ import annotations

import functools

import pytest
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, render_test, seed_test

from selfgym.registration import catalog, make_pettingzoo

ENTRIES = catalog("pettingzoo")
IDS = [e.id for e in ENTRIES]
PARALLEL = [e for e in ENTRIES if e.parallel_entry_point]

pytestmark = pytest.mark.skipif(not ENTRIES, reason="no PettingZoo env is registered yet")


def _factory(entry, parallel=False):
    return functools.partial(make_pettingzoo, entry.id, parallel, **entry.check_kwargs)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_api(entry):
    api_test(_factory(entry)(), num_cycles=200)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_seed(entry):
    seed_test(_factory(entry), num_cycles=20)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_render(entry):
    render_test(_factory(entry))


@pytest.mark.parametrize("entry", PARALLEL, ids=[e.id for e in PARALLEL])
def test_parallel_api(entry):
    parallel_api_test(_factory(entry, True)(), num_cycles=200)


@pytest.mark.parametrize("entry", PARALLEL, ids=[e.id for e in PARALLEL])
def test_parallel_seed(entry):
    parallel_seed_test(_factory(entry, True), num_cycles=20)
