"""The Sandbox contract: files in, Result out, limits enforced, errors that say what to do."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from selfgym.errors import ConfigError, SandboxError
from selfgym.verifiers import Limits, get_sandbox
from tests.verifiers.conftest import FAST


def test_runs_files_with_stdin_and_bytes(sandbox):
    files = {"main.py": "import sys\ndata = open('blob.bin', 'rb').read()\nprint(sys.stdin.read().upper(), len(data), data[:2])\n",
             "blob.bin": b"\x00\xff" * 10}
    res = sandbox.run(files, ["python3", "main.py"], stdin=b"hello")
    assert res.ok and res.outcome == "ok"
    assert res.stdout == "HELLO 20 b'\\x00\\xff'\n"
    assert res.backend == sandbox.name
    assert 0 <= res.cpu_s <= res.wall_s + 0.05


def test_exit_status_and_stderr(sandbox):
    res = sandbox.run({"m.py": "import sys\nprint('oops', file=sys.stderr)\nsys.exit(7)"}, ["python3", "m.py"])
    assert (res.exit_code, res.outcome, res.stderr) == (7, "ok", "oops\n")


def test_exec_path_for_non_python_commands(sandbox):
    res = sandbox.run({"a.txt": "x\ny\n"}, ["sh", "-c", "wc -l < a.txt; python3 -c 'print(2 + 2)'"])
    assert res.ok and res.stdout.split() == ["2", "4"]


def test_timeout_outcome(sandbox):
    res = sandbox.run({"m.py": "import time\ntime.sleep(30)"}, ["python3", "m.py"], limits=FAST.replace(timeout_s=0.5))
    assert res.outcome == "timeout" and res.exit_code == -9
    assert 0.4 < res.wall_s < 3


def test_memory_outcome(sandbox):
    res = sandbox.run({"m.py": "x = bytearray(512 << 20)"}, ["python3", "m.py"])
    assert res.outcome == "memory" and not res.ok


def test_output_limit_outcome(sandbox):
    res = sandbox.run({"m.py": "while True:\n    print('y' * 1000)"}, ["python3", "m.py"])
    assert res.outcome == "output_limit" and res.truncated
    assert len(res.stdout) <= FAST.output_bytes


def test_killed_outcome(sandbox):
    res = sandbox.run({"m.py": "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)"}, ["python3", "m.py"])
    assert res.outcome == "killed" and res.exit_code == -11


def test_rlimits_apply_inside(sandbox):
    code = ("import resource as r\nprint(r.getrlimit(r.RLIMIT_NOFILE)[0], r.getrlimit(r.RLIMIT_FSIZE)[0] >> 20, "
            "r.getrlimit(r.RLIMIT_AS)[0] >> 20)")
    res = sandbox.run({"m.py": code}, ["python3", "m.py"], limits=FAST.replace(nofile=100))
    assert res.stdout.split() == ["100", str(FAST.file_size_mb), str(FAST.memory_mb)]


def test_a_job_sees_exactly_its_own_environment(sandbox):
    """Nothing of the runner's or the engine's environment (e.g. docker's HOSTNAME) reaches a
    job, under ``python3`` (run in the forked child) and under an exec-ed command alike."""
    show = "import json, os\nprint(json.dumps(sorted(os.environ.items())))\n"
    for command in (["python3", "env.py"], ["/usr/bin/env", "python3", "env.py"]):
        res = sandbox.run({"env.py": show}, command)
        assert res.ok, res
        env = dict(json.loads(res.stdout))
        assert set(env) - {"LC_CTYPE"} == {"PATH", "HOME", "TMPDIR", "LANG", "PYTHONDONTWRITEBYTECODE",
                                            "PYTHONUNBUFFERED"}, (command, env)
        assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin" and env["HOME"] == env["TMPDIR"]


def test_bad_file_path_is_a_job_failure_not_a_crash(sandbox):
    res = sandbox.run({"../escape.py": "print(1)"}, ["python3", "../escape.py"])
    assert res.exit_code == 127 and "relative" in res.stderr


def test_limits_validate_with_named_field():
    with pytest.raises(ConfigError, match="Limits.timeout_s must be a positive number"):
        Limits(timeout_s=0)
    with pytest.raises(ConfigError, match="memory_mb must be at least 32"):
        Limits(memory_mb=8)


def test_unknown_backend_names_choices():
    with pytest.raises(ConfigError, match=r"one of \('docker', 'process', 'auto'"):
        get_sandbox("vm")


def test_docker_with_missing_image_raises_never_falls_back(docker_sandbox):
    with pytest.raises(SandboxError, match="selfgym sandbox build"):
        get_sandbox("docker", image="selfgym-sandbox:missing")


def test_without_engine_docker_raises_and_auto_falls_back_loudly():
    code = ("import logging; logging.basicConfig()\n"
            "from selfgym.verifiers import get_sandbox\nfrom selfgym.errors import SandboxError\n"
            "try:\n    get_sandbox('docker')\nexcept SandboxError as e:\n    print('RAISED', e)\n"
            "sb = get_sandbox('auto'); print('AUTO', sb.name); print(sb.run({'a.py': 'print(5)'}, ['python3', 'a.py']).stdout); sb.close()\n")
    env = dict(os.environ, DOCKER_HOST="unix:///nonexistent/docker.sock")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert "RAISED the Docker engine does not answer" in proc.stdout
    assert "AUTO process" in proc.stdout and "5" in proc.stdout.split("AUTO process", 1)[1]
    assert "falling back to the weaker 'process' sandbox" in proc.stderr
    assert "using the 'process' sandbox" in proc.stderr


def test_importing_selfgym_does_not_import_docker():
    code = "import sys, selfgym, selfgym.verifiers, selfgym.verifiers.checker; print('docker' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
    assert out.strip() == "False"


def test_docker_container_is_locked_down(docker_sandbox):
    code = ("import os, socket\n"
            "print('uid', os.getuid())\n"
            "print('caps', [l for l in open('/proc/self/status') if l.startswith('CapEff')][0].split()[1])\n"
            "print('nnp', [l for l in open('/proc/self/status') if l.startswith('NoNewPrivs')][0].split()[1])\n"
            "try:\n    open('/etc/evil', 'w')\nexcept OSError as e:\n    print('rootfs', e.errno)\n"
            "print('ifaces', sorted(n for _, n in socket.if_nameindex()))\n"
            "print('mem', open('/sys/fs/cgroup/memory/memory.limit_in_bytes').read().strip())\n"
            "print('pids', open('/sys/fs/cgroup/pids/pids.max').read().strip())\n")
    res = docker_sandbox.run({"m.py": code}, ["python3", "m.py"])
    lines = dict(line.split(" ", 1) for line in res.stdout.splitlines())
    assert lines["uid"] == "1000"
    assert int(lines["caps"], 16) == 0
    assert lines["nnp"] == "1"
    assert lines["rootfs"] == "30"  # EROFS
    assert lines["ifaces"] == "['lo']"
    assert int(lines["mem"]) == (FAST.memory_mb + 64) << 20
    assert int(lines["pids"]) == FAST.pids + 8


def test_status_reports_pool(docker_sandbox):
    st = docker_sandbox.status()
    assert st["backend"] == "docker" and st["pool"]["size"] == 2 and st["image"].startswith("selfgym-sandbox:")


def test_container_memory_limit_counts_all_processes(docker_sandbox):
    """Four children under the per-process limit, together over the container's: outcome memory."""
    code = ("import os\nfor i in range(4):\n    if os.fork() == 0:\n        x = bytearray(100 << 20)\n"
            "        for j in range(0, len(x), 4096):\n            x[j] = 1\n        os._exit(0)\n"
            "for i in range(4):\n    os.wait()\nprint('survived')")
    res = docker_sandbox.run({"m.py": code}, ["python3", "m.py"])
    assert res.outcome == "memory"
    assert docker_sandbox.run({"m.py": "print('fine')"}, ["python3", "m.py"]).stdout == "fine\n"
