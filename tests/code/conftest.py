"""Shared fixtures for the code family's tests: one warm sandbox for the whole session."""

from __future__ import annotations

import pytest

from selfgym.verifiers import default_sandbox


@pytest.fixture(scope="session")
def sandbox():
    """The process-wide warm sandbox (docker when available, else process)."""
    return default_sandbox()
