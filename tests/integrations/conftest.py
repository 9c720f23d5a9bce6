"""Fixtures shared by the trainer-adapter and self-improvement tests."""

import json
import os
import subprocess
import sys
from pathlib import Path

import gymnasium
import pytest

ROOT = Path(__file__).resolve().parents[2]

ORACLE_CODE_ID = "selfgym/OracleCodeTest-v0"


@pytest.fixture
def oracle_code_id():
    """A CodeTask-v0 whose every action is replaced by the task's own solution.

    Whatever a model writes, the verifier runs on a passing solution; with a closed sandbox that
    is an infrastructure error, with a live one a reward of 1. Registered for the test only.
    """
    from selfgym import registration
    from selfgym.envs.code.env import CodeTaskEnv

    class OracleCodeEnv(CodeTaskEnv):
        def act(self, action):
            return super().act(f"```python\n{self.task.payload['solution']}\n```")

    gymnasium.register(ORACLE_CODE_ID, entry_point=OracleCodeEnv, disable_env_checker=True)
    registration.register(ORACLE_CODE_ID, "tests.integrations.conftest:OracleCodeEnv", family="code",
                          description="test only: CodeTask-v0 answering with the oracle")
    try:
        yield ORACLE_CODE_ID
    finally:
        registration._CATALOG.pop(ORACLE_CODE_ID, None)
        gymnasium.registry.pop(ORACLE_CODE_ID, None)


@pytest.fixture
def dead_sandbox():
    """A process sandbox that has been closed: every job on it is an infrastructure error."""
    from selfgym.verifiers import get_sandbox

    sandbox = get_sandbox("process")
    sandbox.close()
    return sandbox


@pytest.fixture
def run_expert_iteration(tmp_path):
    """Runs ``examples/expert_iteration.py`` offline with ``argv`` into ``tmp_path``; returns its
    stdout, ``metrics.json``, and the rows of ``train_data.jsonl`` and ``heldout.jsonl``."""
    from selfgym.types import load_jsonl

    def run(argv: list[str]) -> tuple[str, dict, list, list]:
        env_vars = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
        proc = subprocess.run([sys.executable, str(ROOT / "examples" / "expert_iteration.py"), *argv,
                               "--out", str(tmp_path)],
                              capture_output=True, text=True, timeout=1800, env=env_vars, cwd=str(ROOT))
        assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        metrics = json.loads((tmp_path / "metrics.json").read_text())
        return (proc.stdout, metrics, load_jsonl(tmp_path / "train_data.jsonl"),
                load_jsonl(tmp_path / "heldout.jsonl"))

    return run
