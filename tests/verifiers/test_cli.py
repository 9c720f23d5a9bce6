"""`selfgym sandbox build|status` and `selfgym demo`, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SELFGYM = [sys.executable, "-m", "selfgym.cli"]


def run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*SELFGYM, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.docker
def test_build_is_idempotent(docker_sandbox):
    proc = run("sandbox", "build")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "already exists" in proc.stdout and proc.stdout.strip().endswith("selfgym-sandbox:1: exists")


@pytest.mark.docker
def test_status_reports_engine_image_and_pool(docker_sandbox):
    proc = run("sandbox", "status", "--json", "--probe")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["engine"]["up"] and data["engine"]["cgroup_driver"]
    assert data["image"]["present"] and data["image"]["label"] == "1"
    assert data["auto_picks"] == "docker"
    assert data["probe"]["stdout"] == "ok" and data["probe"]["pool"]["size"] == 1
    assert data["containers"]["total"] >= 2  # this session's warm pool at least


@pytest.mark.docker
def test_demo_catches_every_planted_wrong_solution(docker_sandbox):
    proc = run("demo")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "verified in the docker sandbox" in proc.stdout
    assert "right solutions passed: 6/6; planted wrong ones caught: 6/6" in proc.stdout
    assert proc.stdout.count("pass") >= 6


def test_demo_on_the_process_backend():
    proc = run("demo", "--backend", "process")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "verified in the process sandbox" in proc.stdout and "caught: 6/6" in proc.stdout
