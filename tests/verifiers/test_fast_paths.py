"""The runner's fast paths (verifiers/runner.py) keep every guarantee.

Between jobs, cheap checks decide only whether there is something to clean: the container's
pids cgroup count instead of a walk of the process tree, the SysV ``*_INFO`` counts instead of
reading /proc/sysvipc, one unlink per entry for a work directory that holds only files. Whatever
a job leaves is still removed (or its worker replaced), one kind at a time, and a job that leaves
nothing keeps its worker. The check harness's module body runs once per runner, and the runner
answers as soon as the harness reports that it has finished, on a descriptor no candidate holds.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from selfgym.types import Status
from selfgym.verifiers import get_sandbox
from selfgym.verifiers.checker import run_tests
from tests.verifiers.conftest import FAST

MARK = "4243"

LOOK = textwrap.dedent("""
    import ctypes, json, os
    libc = ctypes.CDLL(None, use_errno=True)
    rt = ctypes.CDLL("librt.so.1", use_errno=True)
    ipc = [libc.shmget(0x5E1F0011, 0, 0), libc.msgget(0x5E1F0012, 0), libc.semget(0x5E1F0013, 0, 0),
           rt.mq_open(b"/selfgym-fast", os.O_RDONLY, 0, None)]
    rows = sum(len(open(p).read().splitlines()) - 1 for p in ("/proc/sysvipc/shm", "/proc/sysvipc/msg", "/proc/sysvipc/sem"))
    def entries(top):
        return sorted(os.path.join(root, n) for root, dirs, files in os.walk(top)
                      for n in dirs + files if n not in ("look.py", "job"))
    procs = [open(f"/proc/{p}/cmdline").read() for p in os.listdir("/proc") if p.isdigit() and os.path.exists(f"/proc/{p}/cmdline")]
    print(json.dumps({"ipc": ipc, "rows": rows, "work": entries(os.path.dirname(os.getcwd())),
                      "shm": entries("/dev/shm"), "procs": [c for c in procs if "4243" in c]}))
""")
CLEAN = {"ipc": [-1, -1, -1, -1], "rows": 0, "work": [], "shm": [], "procs": []}

PLANT_IPC = {
    "shm": "libc.shmget(0x5E1F0011, 4096, 0o1000 | 0o666)",
    "msg": "libc.msgget(0x5E1F0012, 0o1000 | 0o666)",
    "sem": "libc.semget(0x5E1F0013, 1, 0o1000 | 0o666)",
    "mq": "ctypes.CDLL('librt.so.1', use_errno=True).mq_open(b'/selfgym-fast', os.O_CREAT | os.O_RDWR, 0o666, None)",
}


def _run(sb, files: dict, script: str):
    res = sb.run(files, ["python3", script])
    assert res.ok, res
    return res


def _look(sb) -> dict:
    return json.loads(_run(sb, {"look.py": LOOK}, "look.py").stdout)


@pytest.mark.docker
def test_each_kind_of_ipc_object_left_alone_is_gone_before_the_next_job():
    """The SysV counts (and the message-queue listing) see every kind on its own."""
    sb = get_sandbox("docker", limits=FAST, pool_size=1)
    try:
        assert _look(sb) == CLEAN
        for kind, call in PLANT_IPC.items():
            plant = f"import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nprint({call} >= 0)\n"
            assert _run(sb, {"plant.py": plant}, "plant.py").stdout.strip() == "True", kind
            assert _look(sb) == CLEAN, kind
        assert sb.pool.stats()["started"] == 1  # cleaned in place: the same worker served all ten
    finally:
        sb.close()


PLANT_TREE = textwrap.dedent("""
    import os
    os.makedirs("sub/inner")
    open("sub/inner/f", "w").write("x")
    os.symlink("..", "up")
    os.symlink("/dev/shm", "shm-link")
    os.symlink("loop", "loop")
    os.mkfifo("fifo")
    open("locked-file", "w").write("x")
    os.chmod("locked-file", 0)
    os.chmod("sub", 0o500)
    os.chmod(".", 0o500)  # no entry of this directory can be unlinked until it is writable again
    print("planted")
""")
PLANT_FLAT = "open('a', 'w').write('x')\nopen('b', 'w').write('y')\nprint('planted')\n"


@pytest.mark.parametrize("backend", ["docker", "process"])
@pytest.mark.parametrize("plant", [PLANT_FLAT, PLANT_TREE], ids=["only-files", "dirs-links-fifo-locked"])
def test_a_work_directory_is_emptied_whatever_it_holds(request, backend, plant):
    """Only files: one unlink each. Anything else (a directory, links, a FIFO, entries that
    will not go until made writable): the full removal, which never follows a link."""
    sb = get_sandbox(backend, limits=FAST, pool_size=1)
    try:
        assert _run(sb, {"plant.py": plant}, "plant.py").stdout.strip() == "planted"
        seen = _look(sb)
        assert seen["work"] == [], seen
        if backend == "docker":
            assert seen == CLEAN
            assert sb.pool.stats()["started"] == 1
    finally:
        sb.close()


LEAVE_DAEMON = ("import os\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                f"        os.execvp('sleep', ['sleep', '{MARK}'])\n    os._exit(0)\nprint('left')\n")


@pytest.mark.docker
def test_a_job_that_leaves_a_process_retires_its_worker_and_a_clean_job_keeps_it():
    """A clean job: the count is that of the runner, its zygote and the child forked ahead,
    and the worker stays. A job that leaves a process: the count differs, the walk finds and
    kills it, and the worker is replaced (a child a job makes the zygote's with CLONE_PARENT:
    test_isolation.py)."""
    sb = get_sandbox("docker", limits=FAST, pool_size=1)
    try:
        for _ in range(3):
            assert _look(sb) == CLEAN
        assert sb.pool.stats()["started"] == 1
        assert _run(sb, {"leave.py": LEAVE_DAEMON}, "leave.py").stdout.strip() == "left"
        assert _look(sb) == CLEAN
        assert sb.pool.stats()["started"] == 2
    finally:
        sb.close()


@pytest.mark.parametrize("backend", ["docker", "process"])
def test_the_harness_loaded_once_keeps_nothing_of_one_job_for_the_next(backend):
    """The harness's module body runs once per runner; each job's tests, solution and verdict
    are its own, alternating on one worker."""
    sb = get_sandbox(backend, limits=FAST, pool_size=1)
    doubles = "def test_a(candidate):\n    assert candidate(2) == 4\n"
    squares = "def test_b(candidate):\n    assert candidate(3) == 9\n"
    try:
        for _ in range(2):
            v = run_tests("def f(x):\n    return 2 * x\n", doubles, entry_point="f", sandbox=sb)
            assert v.passed and [c.name for c in v.checks] == ["test_a"], v
            v = run_tests("def f(x):\n    return 2 * x\n", squares, entry_point="f", sandbox=sb)
            assert v.status == Status.TASK_FAILURE and [c.name for c in v.checks] == ["test_b"], v
            v = run_tests("def f(x):\n    return x * x\n", squares, entry_point="f", sandbox=sb)
            assert v.passed, v
        assert sb.pool.stats()["started"] == 1
    finally:
        sb.close()


PROBE = textwrap.dedent("""
    import os

    def probe():
        pipes = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                if int(fd) > 2 and os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
                    pipes.append(fd)
            except OSError:  # the listing's own descriptor, closed by now
                pass
        forged = 0
        for fd in range(3, 256):  # try to pass a forged end-of-harness report off as the runner's
            try:
                os.write(fd, b'SD{"code": 0, "cpu_s": 0.0}\\n')  # a line of its own: a record pipe ignores it
                forged += 1
            except OSError:
                pass
        try:
            os.close(os.open(f"/proc/{os.getppid()}/fd/4", os.O_WRONLY))  # the harness's own copy
            reached = True
        except OSError:
            reached = False
        return [len(pipes), reached]
""")


@pytest.mark.parametrize("backend", ["docker", "process"])
def test_candidate_code_holds_no_descriptor_but_its_record_pipe(request, backend):
    """The harness's workers close every descriptor but their record pipe before any task or
    candidate code runs (the runner's end-of-harness report goes on one the harness holds), and
    cannot reach the harness's through /proc: the probe sees one pipe and reaches nothing, and
    what it writes on that pipe changes no verdict."""
    sb = request.getfixturevalue(f"{backend}_sandbox")
    v = run_tests(PROBE, "def test_probe(candidate):\n    assert candidate() == [1, False]\n",
                  entry_point="probe", sandbox=sb)
    assert v.passed, v
    v = run_tests(PROBE, "def test_probe(candidate):\n    assert candidate() == 'never'\n",
                  entry_point="probe", sandbox=sb)
    assert v.status == Status.TASK_FAILURE and not v.passed, v
