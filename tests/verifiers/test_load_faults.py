"""Load with faults: many verdicts while containers are killed under them. None is lost, none is
wrong, and every infrastructure failure is reported as one (a NaN reward, never a 0)."""

from __future__ import annotations

import math
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from selfgym.types import Status
from selfgym.verifiers import get_sandbox
from selfgym.verifiers.checker import run_tests
from tests.verifiers.conftest import FAST

TESTS = ("def test_a(candidate):\n    assert candidate(3) == 9\n\n"
         "def test_b(candidate):\n    assert candidate(-4) == 16\n")
RIGHT = "def sq(x):\n    return x * x\n"
WRONG = "def sq(x):\n    return x + x\n"
BOMB = "import os\ndef sq(x):\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n"
SLOW_RIGHT = "import time\ndef sq(x):\n    time.sleep(0.05)\n    return x * x\n"


@pytest.mark.docker
def test_load_with_containers_killed_mid_job_loses_nothing_and_scores_nothing_wrong():
    from selfgym.verifiers.docker_backend import POOL_LABEL

    sb = get_sandbox("docker", limits=FAST.replace(timeout_s=3.0), pool_size=3, retries=3)
    rng = random.Random(12)
    kinds = [rng.choice(["right", "wrong", "slow", "bomb"] if i % 25 == 0 else ["right", "wrong", "slow"]) for i in range(300)]
    code = {"right": RIGHT, "wrong": WRONG, "slow": SLOW_RIGHT, "bomb": BOMB}
    stop = threading.Event()
    kills = {"n": 0}

    def killer():
        while not stop.wait(0.4):
            try:
                running = sb.api.containers(filters={"label": f"{POOL_LABEL}={sb.pool_id}", "status": "running"})
                if running:
                    sb.api.kill(rng.choice(running)["Id"])
                    kills["n"] += 1
            except Exception:  # noqa: BLE001 - it died on its own meanwhile
                pass

    try:
        sb.warm()
        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        with ThreadPoolExecutor(4) as ex:
            verdicts = list(ex.map(lambda k: run_tests(code[k], TESTS, entry_point="sq", sandbox=sb), kinds))
        stop.set()
        thread.join(10)
        assert len(verdicts) == len(kinds)  # none lost
        assert kills["n"] >= 5
        infra = 0
        for kind, v in zip(kinds, verdicts):
            if v.status == Status.INFRA_ERROR:
                infra += 1
                assert math.isnan(v.reward) and not v.passed  # reported as ours, never a 0
                continue
            if kind in ("right", "slow"):
                assert v.passed and v.reward == 1.0, (kind, v.error)
            else:
                assert v.status == Status.TASK_FAILURE and v.reward == 0.0, (kind, v)
        assert infra <= len(kinds) // 20, f"{infra} infrastructure errors out of {len(kinds)}"
        # and the pool is whole afterwards
        assert run_tests(RIGHT, TESTS, entry_point="sq", sandbox=sb).passed
    finally:
        stop.set()
        sb.close()
