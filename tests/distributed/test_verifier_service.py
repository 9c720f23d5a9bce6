"""The verifier service: a shared token, batches, back-pressure, and infra errors that stay infra errors."""

from __future__ import annotations

import math
import threading

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from selfgym.errors import ConfigError, SandboxError  # noqa: E402
from selfgym.types import Status  # noqa: E402
from selfgym.verifiers import Limits, get_sandbox  # noqa: E402
from selfgym.verifiers.checker import run_tests  # noqa: E402
from selfgym.verifiers.service import BackgroundServer, make_app  # noqa: E402

TOKEN = "t0ken-for-tests-only-0123456789"
REV = "def rev(s):\n    return s[::-1]\n"
TESTS = "def test_rev(candidate):\n    assert candidate('ab') == 'ba'\n"


@pytest.fixture(scope="module")
def service():
    sandbox = get_sandbox("process", pool_size=2)
    app = make_app(sandbox, TOKEN, capacity=4, workers=2)
    with BackgroundServer(app) as server:
        yield server, app
    sandbox.close()


def test_no_token_no_code(service):
    server, app = service
    auth = {"Authorization": f"Bearer {TOKEN}"}
    jobs_before = httpx.get(f"{server.url}/v1/info", headers=auth).json()["jobs"]
    job = {"files": {"m.py": "open('/tmp/pwned', 'w')"}, "command": ["python3", "m.py"]}
    for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": TOKEN}):
        r = httpx.post(f"{server.url}/v1/run", json=job, headers=headers)
        assert r.status_code == 401
        assert httpx.post(f"{server.url}/v1/batch", json={"jobs": [job]}, headers=headers).status_code == 401
    assert httpx.get(f"{server.url}/v1/info").status_code == 401
    with pytest.raises(ConfigError, match="refused the token"):
        get_sandbox("remote", url=server.url, token="wrong-token-wrong-token").run({"a.py": ""}, ["python3", "a.py"])
    assert httpx.get(f"{server.url}/v1/info", headers=auth).json()["jobs"] == jobs_before  # nothing ran
    with pytest.raises(ConfigError, match="at least 16"):
        make_app(app.state.sandbox, "short")


def test_remote_sandbox_runs_jobs_and_checkers(service):
    server, _ = service
    sb = get_sandbox("remote", url=server.url, token=TOKEN)
    res = sb.run({"main.py": "print(input()[::-1])", "data.bin": b"\x00\x01"}, ["python3", "main.py"],
                 Limits(timeout_s=5), stdin=b"hello")
    assert (res.stdout, res.exit_code, res.outcome) == ("olleh\n", 0, "ok")
    slow = sb.run({"m.py": "while True: pass"}, ["python3", "m.py"], Limits(timeout_s=0.5))
    assert slow.outcome == "timeout"  # the job's misbehaviour is a Result, as locally
    v = run_tests(REV, TESTS, entry_point="rev", sandbox=sb)
    assert (v.reward, v.passed) == (1.0, True)
    v = run_tests("def rev(s):\n    return s\n", TESTS, entry_point="rev", sandbox=sb)
    assert (v.reward, v.status) == (0.0, Status.TASK_FAILURE)
    results = sb.run_batch([{"files": {"m.py": f"print({k} * {k})"}, "command": ["python3", "m.py"]} for k in range(9)])
    assert [r.stdout.strip() for r in results] == [str(k * k) for k in range(9)]  # 9 > capacity 4: sent in chunks


def test_codetask_env_points_at_the_service(service, monkeypatch):
    """Any env takes the remote sandbox by name, with the address and token from the environment."""
    import gymnasium as gym

    import selfgym  # noqa: F401

    server, _ = service
    monkeypatch.setenv("SELFGYM_VERIFIER_URL", server.url)
    monkeypatch.setenv("SELFGYM_VERIFIER_TOKEN", TOKEN)
    env = gym.make("selfgym/CodeTask-v0", sandbox="remote")
    env.reset(seed=3)
    _, reward, terminated, _, info = env.step(env.unwrapped.cheat())
    assert terminated and reward == 1.0 and info["verdict"]["passed"]
    env.close()


def test_back_pressure_is_refused_then_retried(service):
    server, app = service
    refused = app.state.admission.refused
    sb = get_sandbox("remote", url=server.url, token=TOKEN)
    out: list = []

    def one(k: int) -> None:
        out.append(sb.run({"m.py": f"import time; time.sleep(0.3); print({k})"}, ["python3", "m.py"]).stdout.strip())

    threads = [threading.Thread(target=one, args=(k,)) for k in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(out, key=int) == [str(k) for k in range(10)]  # every job ran once, none lost
    assert app.state.admission.refused > refused and sb.busy_retries > 0  # capacity 4: the rest were told to wait
    r = httpx.post(f"{server.url}/v1/batch", json={"jobs": [{"files": {}, "command": ["true"]}] * 5},
                   headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 413  # larger than capacity: never admitted, so refused at once
    impatient = get_sandbox("remote", url=server.url, token=TOKEN, busy_timeout_s=0.2)
    hold = [threading.Thread(target=one, args=(k,)) for k in range(4)]
    for t in hold:
        t.start()
    try:
        import time

        time.sleep(0.1)
        with pytest.raises(SandboxError, match="stayed busy"):
            impatient.run({"m.py": "pass"}, ["python3", "m.py"])
    finally:
        for t in hold:
            t.join()


def test_infra_errors_cross_the_wire_as_infra_errors():
    """A service whose sandbox is broken answers infra_error; the checker gives NaN, not 0."""
    broken = get_sandbox("process", pool_size=1)
    broken.close()  # every run now raises SandboxError
    with BackgroundServer(make_app(broken, TOKEN, capacity=2)) as server:
        sb = get_sandbox("remote", url=server.url, token=TOKEN)
        with pytest.raises(SandboxError, match="remote sandbox"):
            sb.run({"m.py": "print(1)"}, ["python3", "m.py"])
        v = run_tests(REV, TESTS, entry_point="rev", sandbox=sb)
        assert v.status == Status.INFRA_ERROR and math.isnan(v.reward)
        batch = sb.run_batch([{"files": {"m.py": ""}, "command": ["python3", "m.py"]}] * 2)
        assert all(isinstance(b, SandboxError) for b in batch)
    gone = get_sandbox("remote", url=server.url, token=TOKEN, retries=1)  # the service is down now
    v = run_tests(REV, TESTS, entry_point="rev", sandbox=gone)
    assert v.status == Status.INFRA_ERROR and math.isnan(v.reward)


def test_ray_fans_verification_out_over_node_pools(ray_cluster):
    from selfgym.verifiers.service import RaySandboxPool

    pool = RaySandboxPool(nodes=3, backend="process", pool_size=1, num_cpus=0.1, resources={"worker": 0.1})
    try:
        assert len(set(pool.nodes())) == 3  # one pool on each worker node
        with BackgroundServer(make_app(pool, TOKEN, capacity=8)) as server:
            sb = get_sandbox("remote", url=server.url, token=TOKEN)
            jobs = [{"files": {"m.py": f"print({k})"}, "command": ["python3", "m.py"]} for k in range(6)]
            results = sb.run_batch(jobs)
            assert [r.stdout.strip() for r in results] == [str(k) for k in range(6)]
            assert run_tests(REV, TESTS, entry_point="rev", sandbox=sb).passed
    finally:
        pool.close()


def test_verifier_serve_cli_and_the_environment_variables(tmp_path):
    """`selfgym verifier-serve` refuses to start without a token; with one, SELFGYM_SANDBOX=remote
    plus SELFGYM_VERIFIER_URL/_TOKEN make any process's default sandbox the service."""
    import os
    import subprocess
    import sys
    import time

    from .helpers import free_port

    env = {k: v for k, v in os.environ.items() if k not in ("SELFGYM_VERIFIER_TOKEN", "SELFGYM_SANDBOX")}
    port = free_port()
    cmd = [sys.executable, "-m", "selfgym.cli", "verifier-serve", "--backend", "process", "--pool-size", "1",
           "--port", str(port)]
    refused = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "shared token" in refused.stderr
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    proc = subprocess.Popen(cmd + ["--token-file", str(token_file)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < end, "verifier-serve did not come up"
            time.sleep(0.3)
        code = ("from selfgym.verifiers import default_sandbox\n"
                "from selfgym.verifiers.checker import run_tests\n"
                f"v = run_tests({REV!r}, {TESTS!r}, entry_point='rev')\n"
                "print(default_sandbox().name, v.passed, v.reward)\n")
        child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                               env={**env, "SELFGYM_SANDBOX": "remote", "SELFGYM_VERIFIER_URL": url,
                                    "SELFGYM_VERIFIER_TOKEN": TOKEN})
        assert child.returncode == 0, child.stderr[-2000:]
        assert child.stdout.split() == ["remote", "True", "1.0"]
        info = httpx.get(f"{url}/v1/info", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert info["jobs"] >= 1  # the verdict was made by the service
    finally:
        proc.kill()
        proc.wait(timeout=10)
