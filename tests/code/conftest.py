"""Shared fixtures for the code family's tests: one warm sandbox for the whole session."""

from __future__ import annotations

import os
import sys

import pytest

# Test modules here share helpers (code_proposals.py); pytest runs with --import-mode=importlib,
# which does not put test folders on sys.path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from selfgym.verifiers import default_sandbox


@pytest.fixture(scope="session")
def sandbox():
    """The process-wide warm sandbox (docker when available, else process)."""
    return default_sandbox()
