"""One llama.cpp server per test session (the process-wide shared server), and the converted model."""

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def backend():
    from selfgym.llm import make_backend

    return make_backend("default")


@pytest.fixture(scope="session")
def hf_backend():
    from selfgym.llm import make_backend

    return make_backend("transformers:default", threads=1)
