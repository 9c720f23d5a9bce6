"""Fixtures shared by the trainer-adapter tests."""

import gymnasium
import pytest

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
