"""Load with faults: many verdicts while containers are killed under them, or while the Docker
engine restarts. None is lost, none is wrong, and every infrastructure failure is reported as
one (a NaN reward, never a 0).

The engine restart is opt-in, because restarting dockerd stops every container on it, also
those of other users of the engine: set ``SELFGYM_TEST_ENGINE_RESTART=1`` to run
``test_load_across_an_engine_restart_loses_nothing_scores_nothing_wrong_and_recovers``. It
restarts the engine with ``scripts/docker_engine.sh restart`` (the way scripts/setup.sh starts
it); that script's ``SELFGYM_DOCKERD_*`` variables and ``DOCKER_HOST`` point it, and the test,
at a second, private engine instead (docs/SANDBOX.md, "Testing an engine restart").
"""

from __future__ import annotations

import math
import os
import random
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from selfgym.types import Status, Verdict
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


ENGINE_SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "docker_engine.sh")
RESTART_VAR = "SELFGYM_TEST_ENGINE_RESTART"
ENGINE_AWAY_S = 3.0


def _engine(action: str, timeout: float = 180.0) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", ENGINE_SCRIPT, action], capture_output=True, text=True, timeout=timeout)


@pytest.mark.docker
@pytest.mark.skipif(os.environ.get(RESTART_VAR) != "1",
                    reason=f"restarts the Docker engine (stops every container on it): set {RESTART_VAR}=1")
def test_load_across_an_engine_restart_loses_nothing_scores_nothing_wrong_and_recovers():
    """Four callers verify right, wrong and slow answers (verdicts known in advance) on a pool of
    three while the engine is stopped under them, left away for a few seconds and started again.
    Every submission is answered; each verdict is either the right one or an infrastructure
    error (NaN, never 0, never a pass for wrong code); verdicts started once the engine is back
    are all right; no container of the pool is left in any state (created, exited, running)
    after close; the engine answers afterwards."""
    from selfgym.verifiers.docker_backend import POOL_LABEL

    # one retry only: jobs that meet the engine away must end as infrastructure errors, not wait it out
    sb = get_sandbox("docker", limits=FAST.replace(timeout_s=3.0), pool_size=3, retries=1)
    code = {"right": RIGHT, "wrong": WRONG, "slow": SLOW_RIGHT}
    records: list[tuple[str, float, float, Verdict | BaseException]] = []  # kind, started, ended, outcome
    lock = threading.Lock()
    phase = {"restart_began": math.inf, "stopped": math.inf, "up_again": math.inf}
    restarted = threading.Event()
    give_up = time.monotonic() + 300

    def caller(seed: int) -> int:
        rng = random.Random(seed)
        n = 0
        while time.monotonic() < give_up:
            with lock:
                after = sum(1 for r in records if r[1] > phase["up_again"])
            if restarted.is_set() and after >= 120:
                break
            kind = rng.choice(["right", "wrong", "slow"])
            t0 = time.monotonic()
            try:
                v = run_tests(code[kind], TESTS, entry_point="sq", sandbox=sb)
            except BaseException as exc:  # noqa: BLE001 - recorded: a verdict that raised is a lost one
                v = exc
            with lock:
                records.append((kind, t0, time.monotonic(), v))
            n += 1
        return n

    restart = None
    try:
        sb.warm()
        assert run_tests(RIGHT, TESTS, entry_point="sq", sandbox=sb).passed
        before = sb.pool.stats()
        with ThreadPoolExecutor(4) as ex:
            calls = [ex.submit(caller, seed) for seed in range(4)]
            while len(records) < 40 and time.monotonic() < give_up:
                time.sleep(0.05)
            phase["restart_began"] = time.monotonic()
            restart = _engine("stop")
            phase["stopped"] = time.monotonic()
            if restart.returncode == 0:
                time.sleep(ENGINE_AWAY_S)  # long enough that the retries cannot wait it out
                restart = _engine("start")
            phase["up_again"] = time.monotonic()
            restarted.set()
            answered = sum(c.result(timeout=400) for c in calls)
        assert restart.returncode == 0, restart.stdout + restart.stderr
        assert answered == len(records)  # every submission came back

        lost = [r for r in records if not isinstance(r[3], Verdict)]
        assert not lost, f"{len(lost)} verdicts raised instead of answering: {lost[:3]}"
        done = [(kind, t0, t1, v) for kind, t0, t1, v in records if isinstance(v, Verdict)]
        infra, wrong = [], []
        for kind, t0, t1, v in done:
            if v.status == Status.INFRA_ERROR:
                infra.append((t0, t1))
                if not (math.isnan(v.reward) and not v.passed and v.error):
                    wrong.append((kind, "an infrastructure error not reported as one", v))
            elif kind in ("right", "slow"):
                if not (v.passed and v.reward == 1.0 and v.status == Status.OK):
                    wrong.append((kind, "correct code not passed", v))
            elif not (v.status == Status.TASK_FAILURE and v.reward == 0.0 and not v.passed):
                wrong.append((kind, "wrong code not failed", v))
        assert not wrong, f"{len(wrong)} wrong verdicts: {wrong[:3]}"
        # while the engine was away, jobs failed: as infrastructure errors
        assert any(t0 > phase["stopped"] and t1 < phase["up_again"] for t0, t1 in infra), \
            "no verdict met the engine away"
        # the restart hit the pool: its containers died and were replaced
        stats = sb.pool.stats()
        assert stats["recycled"] - before["recycled"] >= sb.pool.size, (before, stats)
        during = [r for r in done if r[1] < phase["up_again"] and r[2] > phase["restart_began"]]
        assert during, "no verdict was under way while the engine restarted"
        # the pool recovered: verdicts started once the engine answered again are all right
        after = [r for r in done if r[1] > phase["up_again"]]
        assert len(after) >= 120
        late_infra = [r for r in after if r[3].status == Status.INFRA_ERROR]
        assert not late_infra, f"{len(late_infra)} infrastructure errors after the engine was back"
        print(f"engine restart: {len(records)} verdicts, {len(infra)} infrastructure errors, "
              f"{len(during)} under way during the restart (stop {phase['stopped'] - phase['restart_began']:.1f} s, "
              f"away and start {phase['up_again'] - phase['stopped']:.1f} s), "
              f"{len(after)} after it, pool {stats}")
    finally:
        restarted.set()
        if restart is None or restart.returncode != 0:
            _engine("start")
        sb.close()
    # nothing of the pool is left, in any state
    assert _engine("status").returncode == 0, "the engine does not answer after the test"
    left = sb.api.containers(all=True, filters={"label": f"{POOL_LABEL}={sb.pool_id}"})
    assert not left, [(c["Id"][:12], c["State"]) for c in left]
