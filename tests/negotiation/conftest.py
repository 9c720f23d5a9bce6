"""Shared fixtures for the negotiation tests: a fixed context and the original data file."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfgym.envs.negotiation.rules import Context

ORIGINAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "dealornodeal" / "selfplay.txt"

# Books 1, hats 1, balls 3. Player 0 values (0, 1, 3), player 1 values (1, 0, 3).
CTX = Context.of((1, 1, 3), (0, 1, 3), (1, 0, 3))


@pytest.fixture
def ctx() -> Context:
    return CTX


@pytest.fixture
def original_file() -> Path:
    if not ORIGINAL.is_file():
        pytest.skip(f"the original Deal-or-No-Deal contexts are not at {ORIGINAL} (see ../shared/data/dealornodeal/README.md)")
    return ORIGINAL
