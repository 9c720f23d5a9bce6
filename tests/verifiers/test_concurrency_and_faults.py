"""Many jobs at once, and the infrastructure failing under a job."""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from selfgym.errors import SandboxError
from selfgym.types import Status
from selfgym.verifiers import get_sandbox
from selfgym.verifiers.checker import run_io_cases
from tests.verifiers.conftest import FAST


@pytest.mark.docker
def test_500_jobs_from_8_threads_none_lost_each_matched(docker_sandbox):
    def job(i: int):
        res = docker_sandbox.run({"j.py": f"import sys\nprint({i} * 7, sys.stdin.read())"}, ["python3", "j.py"],
                                 stdin=str(i).encode())
        return i, res

    with ThreadPoolExecutor(max_workers=8) as ex:
        results = list(ex.map(job, range(500)))
    assert len(results) == 500
    for i, res in results:
        assert res.ok, res
        assert res.stdout == f"{i * 7} {i}\n"


def test_concurrent_verdicts_on_process_backend(process_sandbox):
    code = "def f(x):\n    return x * x\n"

    def verdict(i: int):
        return i, run_io_cases(code, entry_point="f", cases=[{"args": [i], "expected": i * i}], sandbox=process_sandbox)

    with ThreadPoolExecutor(max_workers=8) as ex:
        results = list(ex.map(verdict, range(60)))
    assert all(v.passed and v.checks[0].got == i * i for i, v in results)


def _kill_running(sb) -> int:
    """Kill, from outside, every running container of this sandbox; returns how many."""
    from selfgym.verifiers.docker_backend import POOL_LABEL

    n = 0
    try:
        running = sb.api.containers(filters={"label": f"{POOL_LABEL}={sb.pool_id}", "status": "running"})
    except Exception:  # noqa: BLE001
        return 0
    for c in running:
        try:
            sb.api.kill(c["Id"])
            n += 1
        except Exception:  # noqa: BLE001 - already gone
            pass
    return n


@pytest.mark.docker
def test_container_killed_mid_job_is_retried_not_failed(caplog):
    sb = get_sandbox("docker", limits=FAST.replace(timeout_s=5), pool_size=1, retries=2)
    try:
        sb.run({"w.py": "print('warm')"}, ["python3", "w.py"])
        out = {}
        job = threading.Thread(target=lambda: out.update(res=sb.run(
            {"j.py": "import time\ntime.sleep(1.5)\nprint('done')"}, ["python3", "j.py"])))
        job.start()
        time.sleep(0.5)  # the job is sleeping inside the container now
        assert _kill_running(sb) >= 1
        job.join(60)
        res = out["res"]
        assert res.ok and res.stdout == "done\n"
        assert sb.pool.stats()["recycled"] >= 1
        assert "sandbox worker lost" in caplog.text
    finally:
        sb.close()


@pytest.mark.docker
def test_containers_dying_every_time_is_an_infra_error_not_a_zero():
    from selfgym.verifiers.checker import run_tests

    sb = get_sandbox("docker", limits=FAST.replace(timeout_s=5), pool_size=1, retries=1)
    stop = threading.Event()

    def killer():
        while not stop.is_set():
            _kill_running(sb)
            time.sleep(0.1)

    thread = threading.Thread(target=killer, daemon=True)
    try:
        sb.run({"w.py": "print('warm')"}, ["python3", "w.py"])
        thread.start()
        tests = "def test_slow(candidate):\n    assert candidate() == 1\n"
        v = run_tests("import time\ndef f():\n    time.sleep(1.0)\n    return 1\n", tests, entry_point="f", sandbox=sb)
        assert v.status == Status.INFRA_ERROR and math.isnan(v.reward) and not v.passed
        assert "failed 2 times" in v.error
    finally:
        stop.set()
        thread.join(5)
        sb.close()


@pytest.mark.docker
def test_a_zygote_that_dies_while_its_worker_is_idle_costs_a_retry_never_a_verdict():
    """The runner holds the next job's child while idle; when the zygote that forked it has died
    meanwhile (killed from outside), the next job is not run on that orphan (whose end nobody
    could report): it goes to a fresh worker and gets its right verdict."""
    from selfgym.verifiers.checker import run_tests

    sb = get_sandbox("docker", limits=FAST, pool_size=1, retries=1)
    try:
        assert run_tests("def f(x):\n    return x\n", "def test_a(candidate):\n    assert candidate(1) == 1\n",
                         entry_point="f", sandbox=sb).passed
        (w,) = sb.pool._idle
        runner = sb.api.inspect_container(w.id)["State"]["Pid"]
        with open(f"/proc/{runner}/task/{runner}/children") as f:
            zygote = int(f.read().split()[0])
        for _ in range(100):  # the runner has cleaned up and taken the next job's child
            with open(f"/proc/{zygote}/task/{zygote}/children") as f:
                if len(f.read().split()) == 2:  # that child, and the one forked ahead after it
                    break
            time.sleep(0.05)
        else:
            pytest.fail("the runner did not take the next job's child while idle")
        os.kill(zygote, signal.SIGKILL)
        time.sleep(0.3)
        slow = "import time\ndef f(x):\n    time.sleep(0.3)\n    return x\n"
        v = run_tests(slow, "def test_a(candidate):\n    assert candidate(1) == 1\n", entry_point="f", sandbox=sb)
        assert v.passed and v.reward == 1.0, v
        assert sb.pool.stats()["recycled"] >= 1
    finally:
        sb.close()


@pytest.mark.docker
def test_pool_heals_after_its_containers_are_removed(docker_sandbox):
    from selfgym.verifiers.docker_backend import POOL_LABEL

    sb = get_sandbox("docker", limits=FAST, pool_size=2)
    try:
        sb.run({"w.py": "print(1)"}, ["python3", "w.py"])
        for c in sb.api.containers(all=True, filters={"label": f"{POOL_LABEL}={sb.pool_id}"}):
            try:
                sb.api.remove_container(c["Id"], force=True)
            except Exception:  # noqa: BLE001 - one on its way out already
                pass
        for i in range(4):
            res = sb.run({"w.py": f"print({i})"}, ["python3", "w.py"])
            assert res.ok and res.stdout == f"{i}\n"
    finally:
        sb.close()


def test_closed_sandbox_raises_sandbox_error():
    sb = get_sandbox("process", pool_size=1)
    sb.close()
    with pytest.raises(SandboxError, match="closed"):
        sb.run({"a.py": "print(1)"}, ["python3", "a.py"])
