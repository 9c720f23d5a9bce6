"""Verdicts stay right at training scale: jobs, workers, containers and processes do not reach
each other, a job's own exhaustion is its own failure, nothing leaks, and verdicts are stamped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from selfgym.errors import SandboxError
from selfgym.types import Status, Verdict
from selfgym.verifiers import get_sandbox
from selfgym.verifiers.checker import run_tests
from tests.verifiers.conftest import FAST

TESTS = ("def test_one(candidate):\n    assert candidate(1) == 2\n\n"
         "def test_two(candidate):\n    assert candidate(21) == 42\n")
HONEST = "def solve(x):\n    return x * 2\n"
FORK_BOMB = ("import os\ndef solve(x):\n    while True:\n        try:\n            os.fork()\n"
             "        except OSError:\n            pass\n")


# ------------------------------------------------------------ what a task imports is the stdlib's
@pytest.mark.parametrize("backend", ["docker", "process"])
def test_shadowing_a_module_the_task_imports_changes_nothing(request, backend):
    """HumanEval-style tests import ``random`` when they are replayed in the harness: a
    ``random.py`` the candidate writes next to itself is never what they get."""
    sb = request.getfixturevalue(f"{backend}_sandbox")
    tests = ("import random\n\ndef check(candidate):\n    import random as r\n"
             "    rng = r.Random(7)\n    for _ in range(5):\n        x = rng.randint(0, 9)\n        assert candidate(x) == 2 * x\n")
    forged = json.dumps({"selfgym_harness": 1, "fatal": None, "checks": [{"name": "check", "passed": True}]})
    shadow = (f"FORGED = {('import os; os.write(1, ' + repr((forged + chr(10)).encode()) + '); os._exit(0)')!r}\n"
              "for m in ('random', 'bisect', 'hashlib', '_sha512', 'os', 'warnings', 'math'):\n"
              "    open(m + '.py', 'w').write(FORGED)\n"
              "def solve(x):\n    return -1\n")
    v = run_tests(shadow, tests, entry_point="solve", sandbox=sb)
    assert v.status == Status.TASK_FAILURE and v.reward == 0.0, v
    assert run_tests(HONEST, tests, entry_point="solve", sandbox=sb).passed


# ------------------------------------------------------------------------- IPC across jobs
IPC_PLANT = textwrap.dedent("""
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    shm = libc.shmget(0x5E1F0001, 4096, 0o1000 | 0o666)
    libc.shmat.restype = ctypes.c_void_p
    addr = libc.shmat(shm, None, 0)
    ctypes.memmove(addr, b"secret of job 1", 15)
    libc.shmdt(ctypes.c_void_p(addr))
    msg = libc.msgget(0x5E1F0002, 0o1000 | 0o666)
    sem = libc.semget(0x5E1F0003, 1, 0o1000 | 0o666)
    rt = ctypes.CDLL("librt.so.1", use_errno=True)
    mq = rt.mq_open(b"/selfgym-leak", os.O_CREAT | os.O_RDWR, 0o666, None)
    print(shm >= 0, msg >= 0, sem >= 0, mq >= 0)
""")
IPC_LOOK = textwrap.dedent("""
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    rt = ctypes.CDLL("librt.so.1", use_errno=True)
    seen = [libc.shmget(0x5E1F0001, 0, 0), libc.msgget(0x5E1F0002, 0), libc.semget(0x5E1F0003, 0, 0),
            rt.mq_open(b"/selfgym-leak", os.O_RDONLY, 0, None)]
    rows = sum(len(open(p).read().splitlines()) - 1 for p in ("/proc/sysvipc/shm", "/proc/sysvipc/msg", "/proc/sysvipc/sem"))
    print(seen, rows)
""")


def _host_ipc_keys() -> set[int]:
    keys = set()
    for path in ("/proc/sysvipc/shm", "/proc/sysvipc/msg", "/proc/sysvipc/sem"):
        with open(path) as f:
            keys |= {int(line.split()[0]) for line in f.read().splitlines()[1:] if line.strip()}
    return keys


@pytest.mark.parametrize("backend", ["docker", "process"])
def test_ipc_objects_do_not_reach_the_next_job(backend):
    if backend == "process" and os.geteuid() != 0:
        pytest.skip("without root the process backend shares the host's IPC namespace (docs/SECURITY.md)")
    sb = get_sandbox(backend, limits=FAST, pool_size=1)
    try:
        first = sb.run({"plant.py": IPC_PLANT}, ["python3", "plant.py"])
        assert first.ok and first.stdout.split() == ["True"] * 4, first
        second = sb.run({"look.py": IPC_LOOK}, ["python3", "look.py"])
        assert second.ok, second
        assert second.stdout.strip() == "[-1, -1, -1, -1] 0"
        assert sb.pool.stats()["started"] == 1  # the same worker served both jobs
        assert not {0x5E1F0001, 0x5E1F0002, 0x5E1F0003} & _host_ipc_keys()  # the host's namespace is untouched
    finally:
        sb.close()


# ------------------------------------------------------------- the machinery is out of reach
DAMAGE = textwrap.dedent("""
    import os, resource, signal
    me = os.getpid()
    hit = []
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == me:
            continue
        pid = int(p)
        for r in (resource.RLIMIT_NOFILE, resource.RLIMIT_AS, resource.RLIMIT_NPROC, resource.RLIMIT_CPU,
                  resource.RLIMIT_FSIZE, resource.RLIMIT_STACK):
            try:
                resource.prlimit(pid, r, (1, 1))
                hit.append((pid, r))
            except (OSError, ValueError):
                pass
        for s in (signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGSTOP, signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(pid, s)
                if pid != 1:  # a container's init gets only signals it handles: none (checked below)
                    hit.append((pid, s))
            except OSError:
                pass
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGPIPE):
        signal.signal(s, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_NOFILE, (16, 16))
    print(len(hit))
""")
RLIMITS = ("import resource as r\nprint([r.getrlimit(x) for x in (r.RLIMIT_NOFILE, r.RLIMIT_AS, r.RLIMIT_FSIZE, r.RLIMIT_STACK)])\n"
           "import signal\nprint([signal.getsignal(s) == signal.SIG_DFL for s in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD)])\n")


@pytest.mark.parametrize("backend", ["docker", "process"])
def test_a_job_cannot_damage_the_worker_that_serves_the_next_job(backend):
    """A job prlimits and signals every process it can see (the runner, the zygote, the child
    forked ahead for the next job) and changes its own handlers and limits: the next job on the
    same worker starts with the same limits and handlers and still gets right verdicts."""
    if backend == "process" and os.geteuid() != 0:
        pytest.skip("without root the process backend's jobs share the runner's uid (docs/SECURITY.md)")
    sb = get_sandbox(backend, limits=FAST, pool_size=1)
    try:
        before = sb.run({"l.py": RLIMITS}, ["python3", "l.py"])
        attack = sb.run({"d.py": DAMAGE}, ["python3", "d.py"])
        assert attack.ok and attack.stdout.strip() == "0", attack  # it could touch nothing but itself
        after = sb.run({"l.py": RLIMITS}, ["python3", "l.py"])
        assert after.ok and after.stdout == before.stdout
        assert run_tests(HONEST, TESTS, entry_point="solve", sandbox=sb).passed
        assert sb.pool.stats()["started"] == 1 and sb.pool.stats()["recycled"] == 0
    finally:
        sb.close()


CLONE_PARENT_STRAY = textwrap.dedent("""
    import ctypes, os, time
    libc = ctypes.CDLL(None, use_errno=True)
    pid = libc.syscall(56, 0x00008000 | 17, 0, 0, 0, 0)  # clone(CLONE_PARENT | SIGCHLD): a sibling, not a child
    if pid == 0:
        os.setsid()
        while True:
            try:
                with open("../stray_alive", "w") as f:
                    f.write(str(os.getpid()))
            except OSError:
                pass
            time.sleep(0.02)
    print(pid)
""")
LOOK_FOR_STRAY = "import os, time\ntime.sleep(0.3)\nprint(sorted(os.listdir('..')))\n"


@pytest.mark.parametrize("backend", ["docker", "process"])
def test_a_process_made_a_sibling_of_the_job_does_not_reach_the_next_job(backend):
    """``clone(CLONE_PARENT)`` makes a process whose parent is the job's parent (the zygote),
    not the job, so it is not among the job's orphans: it is still killed after the job, and the
    next job on the pool neither sees it nor anything it writes."""
    if backend == "process" and os.geteuid() != 0:
        pytest.skip("without root the process backend's jobs share the runner's uid (docs/SECURITY.md)")
    sb = get_sandbox(backend, limits=FAST, pool_size=1)
    try:
        planted = sb.run({"a.py": CLONE_PARENT_STRAY}, ["python3", "a.py"])
        assert planted.ok and int(planted.stdout) > 0, planted  # the clone worked
        after = sb.run({"b.py": LOOK_FOR_STRAY}, ["python3", "b.py"])
        assert after.ok and after.stdout.strip() == "['job']", after
        if backend == "process":  # same pid namespace as the host: the stray itself is gone
            stray = int(planted.stdout)
            state = ""
            try:
                with open(f"/proc/{stray}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                pass
            assert state in ("", "Z"), f"the stray {stray} still runs ({state})"
        assert sb.pool.stats()["recycled"] >= 1  # a worker whose job left a process is replaced
        assert run_tests(HONEST, TESTS, entry_point="solve", sandbox=sb).passed
    finally:
        sb.close()


# ------------------------------------------------------------------- process limits per worker
@pytest.mark.parametrize("backend", ["docker", "process"])
def test_exhausting_processes_fails_only_that_job_while_other_workers_verify(backend):
    """Fork bombs run in some workers while correct answers are verified in the others (of this
    sandbox and of a second one): every correct answer passes, every bomb is a task failure."""
    bombs_sb = get_sandbox(backend, limits=FAST.replace(timeout_s=2.0), pool_size=2)
    good_sb = get_sandbox(backend, limits=FAST.replace(timeout_s=4.0), pool_size=2)
    try:
        bombs_sb.warm()
        good_sb.warm()
        stop = threading.Event()
        bomb_verdicts: list[Verdict] = []

        def bomb():
            while not stop.is_set():
                bomb_verdicts.append(run_tests(FORK_BOMB, TESTS, entry_point="solve", sandbox=bombs_sb))

        threads = [threading.Thread(target=bomb) for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        with ThreadPoolExecutor(2) as ex:
            good = list(ex.map(lambda i: run_tests(HONEST, TESTS, entry_point="solve", sandbox=good_sb), range(24)))
        mixed = [run_tests(HONEST, TESTS, entry_point="solve", sandbox=bombs_sb) for _ in range(3)]
        stop.set()
        for t in threads:
            t.join(60)
        assert [v.status for v in good] == [Status.OK] * 24, [v.error for v in good if not v.passed]
        assert all(v.passed for v in mixed), [v.error for v in mixed]
        assert bomb_verdicts and all(v.status == Status.TASK_FAILURE for v in bomb_verdicts), \
            [v.error for v in bomb_verdicts if v.status != Status.TASK_FAILURE]
    finally:
        bombs_sb.close()
        good_sb.close()


# -------------------------------------------------------- our failures are ours, theirs are theirs
@pytest.mark.parametrize("backend", ["docker", "process"])
def test_a_checker_that_fails_before_task_code_is_an_infrastructure_error(request, backend):
    """The harness given a spec it cannot load fails before any task or candidate code runs: that
    can never be the candidate's doing, so it is retried and raised, never a Result."""
    sb = request.getfixturevalue(f"{backend}_sandbox")
    files = {"job.json": "{not json", "solution.py": HONEST, "tests.py": TESTS}
    with pytest.raises(SandboxError, match="before it ran any task code"):
        sb.run(files, ["python3", sb.harness_path])


@pytest.mark.parametrize("backend", ["docker", "process"])
def test_a_test_program_that_does_not_compile_is_a_task_failure_not_infra(request, backend):
    sb = request.getfixturevalue(f"{backend}_sandbox")
    v = run_tests(HONEST, "def test_x(candidate):\n    assert candidate(1) == 2\nreturn 5\n", entry_point="solve",
                  sandbox=sb, tests=["test_x"])
    assert v.status == Status.TASK_FAILURE and "does not compile" in v.error, v


# ---------------------------------------------------------------------------------- the stamp
def test_verdict_stamp_round_trips_and_old_verdicts_load():
    v = Verdict(reward=1.0, passed=True, stamp={"image_id": "sha256:abc", "limits": {"pids": 64}})
    again = Verdict.from_dict(json.loads(json.dumps(v.to_dict())))
    assert again == v and again.stamp["limits"] == {"pids": 64}
    old = {"reward": 0.0, "passed": False, "status": "task_failure", "checks": [], "timings": {}, "error": "x"}
    assert Verdict.from_dict(old).stamp == {}


def test_code_env_verdicts_are_stamped_and_a_trainer_can_refuse_another_image(docker_sandbox):
    import gymnasium as gym

    import selfgym.envs  # noqa: F401
    from selfgym.verifiers.stamp import StampMismatch, check_stamp, expected_stamp, program_hash

    env = gym.make("selfgym/CodeTask-v0", sandbox=docker_sandbox)
    env.reset(seed=3)
    _, reward, *_, info = env.step(env.unwrapped.cheat())
    stamp = info["verdict"]["stamp"]
    task = env.unwrapped.task
    assert reward == 1.0
    assert stamp["task_id"] == task.id and stamp["program_sha256"] == program_hash(task)
    assert stamp["backend"] == "docker" and stamp["image_id"] == docker_sandbox.image_id
    assert stamp["limits"]["memory_mb"] == FAST.memory_mb and stamp["selfgym"]
    expected = expected_stamp(docker_sandbox)
    check_stamp(info["verdict"], expected)  # the same image: accepted
    with pytest.raises(StampMismatch, match="image_id"):
        check_stamp(info["verdict"], dict(expected, image_id="sha256:" + "0" * 64))
    env.close()


# ------------------------------------------------------------------------------- neighbours
HOLDER = textwrap.dedent("""
    import sys, time
    from selfgym.verifiers import Limits, get_sandbox
    sb = get_sandbox("docker", limits=Limits(memory_mb=48, pids=16, tmpfs_mb=4, timeout_s=5), pool_size=int(sys.argv[1]))
    sb.warm()
    end = time.monotonic() + 150
    while sb.pool.stats()["idle"] < sb.pool.size and time.monotonic() < end:
        time.sleep(0.2)
    print(sb.pool_id, sb.pool.stats()["idle"], flush=True)
    time.sleep(600)
""")


def _holder(n: int) -> tuple[subprocess.Popen, str, int]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(n)], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().split()
    assert len(line) == 2, "the holder process did not start its pool"
    return proc, line[0], int(line[1])


@pytest.mark.docker
def test_correct_answers_pass_while_another_process_holds_24_warm_containers(docker_sandbox):
    from selfgym.verifiers.docker_backend import POOL_LABEL

    proc, pool_id, idle = _holder(24)
    try:
        assert idle == 24
        assert len(docker_sandbox.api.containers(filters={"label": f"{POOL_LABEL}={pool_id}"})) == 24
        with ThreadPoolExecutor(4) as ex:
            verdicts = list(ex.map(lambda i: run_tests(HONEST, TESTS, entry_point="solve", sandbox=docker_sandbox),
                                   range(80)))
        assert [v.status for v in verdicts] == [Status.OK] * 80, [v.error for v in verdicts if not v.passed]
    finally:
        proc.kill()
        proc.wait()


# ------------------------------------------------------------------------------------- leaks
def _ours(api, **labels) -> list[dict]:
    from selfgym.verifiers.docker_backend import LABEL

    found = api.containers(all=True, filters={"label": LABEL})
    return [c for c in found if all((c.get("Labels") or {}).get(k) == v for k, v in labels.items())]


@pytest.mark.docker
def test_no_container_outlives_a_killed_pool_or_an_async_vector_env(docker_sandbox):
    import gymnasium as gym

    import selfgym.envs  # noqa: F401
    from selfgym.verifiers.docker_backend import LABEL, POOL_LABEL, client

    api = client().api
    host = os.uname().nodename
    # 1. a process holding a warm pool is killed with SIGKILL: nothing of it may run its cleanup
    proc, pool_id, idle = _holder(2)
    assert idle == 2 and len(_ours(api, **{POOL_LABEL: pool_id})) == 2
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # 2. an async vector env of CodeTask-v0 is made, stepped and closed
    envs = gym.make_vec("selfgym/CodeTask-v0", num_envs=2, vectorization_mode="async",
                        vector_kwargs={"shared_memory": False}, sandbox="docker")
    workers = [p.pid for p in envs.processes]
    envs.reset(seed=0)
    actions = envs.call("cheat")
    _, rewards, *_ = envs.step(actions)
    assert list(rewards) == [1.0, 1.0]
    worker_owners = {f"{host}:{pid}" for pid in workers}
    assert len([c for c in _ours(api) if c["Labels"][LABEL] in worker_owners]) >= 2  # they had containers
    envs.close()
    # the workers closed their own sandboxes on the way out (no atexit runs there)
    assert [c for c in _ours(api) if c["Labels"][LABEL] in worker_owners] == []
    # 3. the next sandbox start reaps whatever is left
    nxt = get_sandbox("docker", limits=FAST, pool_size=1)
    nxt.close()
    assert _ours(api, **{POOL_LABEL: pool_id}) == []
    assert [c for c in _ours(api) if c["Labels"][LABEL] in worker_owners] == []


@pytest.mark.docker
def test_stale_containers_in_any_state_are_reaped_and_gc_says_so(docker_sandbox):
    """A container created (never started) for an owner that is gone, e.g. by a start cut short
    when the engine went down, is removed by ``selfgym sandbox gc``."""
    from selfgym.verifiers.docker_backend import LABEL, START_LABEL, client
    from selfgym.verifiers.image import IMAGE

    api = client().api
    dead = subprocess.Popen(["true"])
    dead.wait()
    owner = f"{os.uname().nodename}:{dead.pid}"
    cid = api.create_container(IMAGE, command=["true"], labels={LABEL: owner, START_LABEL: "1"})["Id"]
    assert api.inspect_container(cid)["State"]["Status"] == "created"
    out = subprocess.run([sys.executable, "-m", "selfgym.cli", "sandbox", "gc"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.startswith("removed "), out
    assert int(out.stdout.split()[1]) >= 1
    assert [c for c in _ours(api) if c["Id"] == cid] == []
    assert len(_ours(api, **{"org.selfgym.sandbox.pool": docker_sandbox.pool_id})) >= 1  # a live owner's are kept


@pytest.mark.docker
def test_close_keeps_removing_while_the_engine_refuses():
    """close() retries removal until the engine answers (here it refuses the first attempts)."""
    import docker

    from selfgym.verifiers.docker_backend import POOL_LABEL, remove_container

    sb = get_sandbox("docker", limits=FAST, pool_size=1)
    sb.run({"a.py": "print(1)"}, ["python3", "a.py"])
    (c,) = _ours(sb.api, **{POOL_LABEL: sb.pool_id})
    api = sb.api
    refusals = {"n": 0}

    class Refusing:
        def __getattr__(self, name):
            return getattr(api, name)

        def remove_container(self, cid, **kw):
            if refusals["n"] < 3:
                refusals["n"] += 1
                raise docker.errors.APIError("the engine is restarting")
            return api.remove_container(cid, **kw)

    assert remove_container(Refusing(), c["Id"], tries_s=10.0)
    assert refusals["n"] == 3 and _ours(api, **{POOL_LABEL: sb.pool_id}) == []
    sb.close()


@pytest.mark.parametrize("backend", ["docker", "process"])
def test_forged_deep_or_huge_records_in_io_mode_fail_the_case_and_never_reach_the_host(request, backend):
    """The candidate writes records of its own (200,000 levels deep; an int of 100,000 digits;
    an unknown tag) on every descriptor: the harness forwards only values it could re-encode."""
    from selfgym.verifiers.checker import run_io_cases

    sb = request.getfixturevalue(f"{backend}_sandbox")
    forge = ("import os\ndef f(x):\n    recs = [b'{\"k\": \"begin\", \"i\": 0}', b'{\"k\": \"call\", \"i\": 0, \"ret\": ' + b'[' * 200000 + b']' * 200000 + b'}',\n"
             "            b'{\"k\": \"call\", \"i\": 0, \"ret\": {\"t\": \"int\", \"v\": \"' + b'9' * 100000 + b'\"}}',\n"
             "            b'{\"k\": \"call\", \"i\": 0, \"ret\": {\"t\": \"nope\", \"v\": 1}, \"raise\": [1]}', b'{\"k\": \"end\", \"i\": 0}']\n"
             "    for fd in range(3, 64):\n        try:\n            os.write(fd, b'\\n'.join(recs) + b'\\n')\n"
             "        except OSError:\n            pass\n    os._exit(0)\n")
    v = run_io_cases(forge, entry_point="f", cases=[{"args": [1], "expected": 2}], sandbox=sb)
    assert v.status == Status.TASK_FAILURE and not v.passed and v.reward == 0.0, v
    assert run_io_cases("def f(x):\n    return 2 * x\n", entry_point="f", cases=[{"args": [1], "expected": 2}], sandbox=sb).passed


@pytest.mark.parametrize("backend", ["docker", "process"])
def test_a_candidate_too_big_for_its_files_is_a_task_failure_not_infra(request, backend):
    """A solution larger than the job may write (FAST: a 16 MB work directory) fails the job's
    setup before the harness starts: that is the candidate's doing, never an infrastructure error."""
    sb = request.getfixturevalue(f"{backend}_sandbox")
    huge = HONEST + "# " + "x" * (17 << 20) + "\n"
    v = run_tests(huge, TESTS, entry_point="solve", sandbox=sb)
    assert v.status == Status.TASK_FAILURE and v.reward == 0.0, v
    assert run_tests(HONEST, TESTS, entry_point="solve", sandbox=sb).passed


def _use_inherited(sb, q) -> None:
    res = sb.run({"a.py": "print('child job')"}, ["python3", "a.py"])
    q.put((res.stdout, sb.pool_id))


@pytest.mark.docker
def test_a_sandbox_copied_into_a_forked_child_leaves_the_parents_workers_alone():
    """The child of a fork starts workers of its own (under its own owner label), removes them
    when it ends (multiprocessing children skip atexit), and the parent's pool keeps working."""
    import multiprocessing

    from selfgym.verifiers.docker_backend import POOL_LABEL

    sb = get_sandbox("docker", limits=FAST, pool_size=1)
    try:
        assert sb.run({"a.py": "print('parent job')"}, ["python3", "a.py"]).stdout == "parent job\n"
        parents = _ours(sb.api, **{POOL_LABEL: sb.pool_id})
        assert len(parents) == 1
        ctx = multiprocessing.get_context("fork")
        q = ctx.Queue()
        child = ctx.Process(target=_use_inherited, args=(sb, q))
        child.start()
        out, child_pool = q.get(timeout=120)
        child.join(120)
        assert out == "child job\n" and child.exitcode == 0
        assert child_pool != sb.pool_id
        assert _ours(sb.api, **{POOL_LABEL: child_pool}) == []  # the child removed its own on the way out
        assert [c["Id"] for c in _ours(sb.api, **{POOL_LABEL: sb.pool_id})] == [c["Id"] for c in parents]
        assert sb.run({"a.py": "print('parent again')"}, ["python3", "a.py"]).stdout == "parent again\n"
    finally:
        sb.close()


@pytest.mark.docker
def test_containers_a_close_could_not_remove_while_the_engine_was_away_go_on_the_next_pass():
    """close() while the engine does not answer (the sandbox talks to a socket nobody serves)
    leaves the containers on a pending list; the next reaper pass, with the engine back,
    removes them, even though their owner (this process) still runs."""
    import docker

    from selfgym.verifiers import docker_backend as db

    sb = get_sandbox("docker", limits=FAST, pool_size=1)
    sb.run({"a.py": "print(1)"}, ["python3", "a.py"])
    (c,) = _ours(sb.api, **{db.POOL_LABEL: sb.pool_id})
    live_api = sb.api
    away = docker.APIClient(base_url="unix:///nonexistent/docker.sock", version="1.41", timeout=2)
    w = sb.pool._idle[0]
    w.api = away
    sb._api = away
    old = db.REMOVE_TRIES_S
    db.REMOVE_TRIES_S = 1.0
    try:
        sb.close()
    finally:
        db.REMOVE_TRIES_S = old
    assert c["Id"] in db._pending
    assert [x["Id"] for x in _ours(live_api, **{db.POOL_LABEL: sb.pool_id})] == [c["Id"]]
    assert db.remove_stale_containers() >= 1
    assert _ours(live_api, **{db.POOL_LABEL: sb.pool_id}) == [] and c["Id"] not in db._pending
