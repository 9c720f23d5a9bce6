"""Shared fixtures for the negotiation tests: a fixed context and the original data file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from selfgym.envs.negotiation.rules import Context

# The original contexts (CC BY-NC 4.0, never part of selfgym): $SELFGYM_NEGOTIATION_CONTEXTS, else
# ../shared/data/dealornodeal/selfplay.txt next to the checkout.
ORIGINAL = Path(os.environ.get("SELFGYM_NEGOTIATION_CONTEXTS")
                or Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "dealornodeal" / "selfplay.txt")

# Books 1, hats 1, balls 3. Player 0 values (0, 1, 3), player 1 values (1, 0, 3).
CTX = Context.of((1, 1, 3), (0, 1, 3), (1, 0, 3))


@pytest.fixture
def ctx() -> Context:
    return CTX


@pytest.fixture
def original_file() -> Path:
    if not ORIGINAL.is_file():
        pytest.skip(f"the original Deal-or-No-Deal contexts are not at {ORIGINAL} "
                    "(set SELFGYM_NEGOTIATION_CONTEXTS to a copy of selfplay.txt)")
    return ORIGINAL
