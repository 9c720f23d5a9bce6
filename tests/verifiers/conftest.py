"""Shared sandboxes for the verifier tests: real Docker engine and real local processes."""

from __future__ import annotations

import pytest

from selfgym.verifiers import Limits, get_sandbox

FAST = Limits(timeout_s=1.5, memory_mb=128, pids=32, output_bytes=200_000, file_size_mb=4, tmpfs_mb=16)


@pytest.fixture(scope="session")
def docker_sandbox():
    from selfgym.verifiers import image

    image.build(log=lambda msg: None)  # CI has built it already; a no-op then
    sb = get_sandbox("docker", limits=FAST, pool_size=2)
    sb.warm()
    yield sb
    sb.close()


@pytest.fixture(scope="session")
def process_sandbox():
    sb = get_sandbox("process", limits=FAST, pool_size=2)
    yield sb
    sb.close()


@pytest.fixture(params=["docker", "process"])
def sandbox(request):
    """Each test that takes ``sandbox`` runs once per backend."""
    return request.getfixturevalue(f"{request.param}_sandbox")
