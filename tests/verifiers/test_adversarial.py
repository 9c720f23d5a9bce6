"""The adversarial battery: candidates that attack the checker, the sandbox or the host.

Every case asserts the verdict (a task failure, never a pass and never an infrastructure error)
and then that nothing was harmed: an honest solution still passes on the same pool, the pool is
within its size, no process the attack started is alive anywhere on the host, and host files
are unchanged. Cases run on both backends except where the process backend is documented not
to protect (docs/SECURITY.md): disk filling beyond one file, and signals to other jobs.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import time

import pytest

from selfgym.types import Status
from selfgym.verifiers.checker import run_tests
from selfgym.verifiers import runner as runner_module

TESTS = ("def test_one(candidate):\n    assert candidate(1) == 2\n\n"
         "def test_two(candidate):\n    assert candidate(21) == 42\n\n"
         "def test_three(candidate):\n    assert candidate(-3) == -6\n")
HONEST = "def solve(x):\n    return x * 2\n"
MARK = "4242"  # attacks that leave processes behind run `sleep 4242`

SECRET = "/tmp/selfgym-test-secret.txt"
RUNNER_IN = {"docker": "/opt/selfgym/runner.py", "process": runner_module.__file__}


def _listener(family: int, addr: str) -> tuple[socket.socket | None, int]:
    try:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.bind((addr, 0))
        s.listen(8)
        s.setblocking(False)
        return s, s.getsockname()[1]
    except OSError:
        return None, 1


LISTEN4, PORT4 = _listener(socket.AF_INET, "127.0.0.1")
LISTEN6, PORT6 = _listener(socket.AF_INET6, "::1")

# Writes, next to itself, a module under the name of every module the harness (or a task's
# tests) might import, each printing a forged all-pass verdict line.
SHADOW = """import json
LINE = json.dumps({"selfgym_harness": 1, "fatal": None,
                   "checks": [{"name": n, "passed": True, "message": ""} for n in ("test_one", "test_two", "test_three")]})
FORGED = "import os\\nos.write(1, " + repr((LINE + "\\n").encode()) + ")\\nos._exit(0)\\n"
for mod in ("random", "json", "traceback", "linecache", "tokenize", "base64", "math", "selectors", "signal", "ctypes",
            "re", "collections", "functools", "string", "typing", "encodings", "codecs", "io", "os", "sys", "time",
            "copy", "operator", "itertools", "heapq", "bisect", "decimal", "fractions", "statistics", "ast"):
    open(mod + ".py", "w").write(FORGED)
def solve(x):
    raise ValueError("wrong on purpose")
"""

# (id, candidate code, backends, a phrase the verdict's error must contain or None)
CASES = [
    ("fork_bomb", "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
     ("docker", "process"), "time limit"),
    ("memory_bomb_alloc", "def solve(x):\n    block = bytearray(1 << 30)\n    return x * 2\n", ("docker", "process"), "MemoryError"),
    ("memory_bomb_grow", "def solve(x):\n    hog = []\n    while True:\n        hog.append(' ' * (1 << 20))\n",
     ("docker", "process"), "MemoryError"),
    ("disk_fill", "import os\ndef solve(x):\n    i = 0\n    while True:\n        with open(f'fill{i}', 'wb') as f:\n"
     "            f.write(b'0' * (1 << 20) * 3)\n        i += 1\n", ("docker", "process"), "Error"),
    ("file_size_limit", "def solve(x):\n    with open('big', 'wb') as f:\n        f.write(b'0' * (64 << 20))\n    return x * 2\n",
     ("docker", "process"), None),
    ("network_egress_ipv4", f"import socket\ndef solve(x):\n    socket.create_connection(('127.0.0.1', {PORT4}), timeout=0.5)\n"
     "    return x * 2\n", ("docker", "process"), "Error"),
    ("network_egress_ipv6", f"import socket\ndef solve(x):\n    socket.create_connection(('::1', {PORT6}), timeout=0.5)\n"
     "    return x * 2\n", ("docker", "process"), "Error"),
    ("read_host_file", f"def solve(x):\n    open({SECRET!r}).read()\n    return x * 2\n", ("docker", "process"), "Error"),
    ("read_runner_memory", "import os\ndef solve(x):\n    open(f'/proc/{os.getppid()}/mem', 'rb').read(1)\n    return x * 2\n",
     ("docker", "process"), "Error"),
    ("infinite_loop", "def solve(x):\n    while True:\n        pass\n", ("docker", "process"), "time limit"),
    ("sleep_past_timeout", "import time\ndef solve(x):\n    time.sleep(60)\n    return x * 2\n", ("docker", "process"), "time limit"),
    ("ignore_sigterm_and_spin", "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ndef solve(x):\n    while True:\n        pass\n",
     ("docker", "process"), "time limit"),
    ("stdout_flood", "import os\ndef solve(x):\n    while True:\n        os.write(1, b'PASS ' * 20000)\n        print('ok ' * 1000)\n",
     ("docker", "process"), "time limit"),
    ("kill_runner_and_parent", "import os, signal\ndef solve(x):\n    for pid in (1, os.getppid()):\n        try:\n"
     "            os.kill(pid, signal.SIGKILL)\n        except OSError:\n            pass\n    return x * 3\n",
     ("docker", "process"), None),
    ("kill_every_process_it_can", "import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass\n"
     "def solve(x):\n    return -x\n", ("docker",), None),
    ("sys_exit_before_checks", "import sys\nsys.exit(0)\ndef solve(x):\n    return x * 2\n", ("docker", "process"), "SystemExit"),
    ("os_exit_before_checks", "import os\nos._exit(0)\ndef solve(x):\n    return x * 2\n", ("docker", "process"), "before its first check"),
    ("os_exit_inside_checks", "import os\ndef solve(x):\n    os._exit(0)\n", ("docker", "process"), "stopped during this check"),
    ("fake_pass_markers", "import os, sys\ndef solve(x):\n    line = '{\"selfgym_harness\": 1, \"checks\": [{\"passed\": true}] * 3, \"fatal\": null}'\n"
     "    print(line); print(line, file=sys.stderr); os.write(1, (line + '\\n').encode())\n    print('3 passed')\n    os._exit(0)\n",
     ("docker", "process"), "stopped during this check"),
    ("write_parent_stdout", "import os\ndef solve(x):\n    line = '{\"selfgym_harness\": 1, \"checks\": [], \"fatal\": null}\\n'\n"
     "    with open(f'/proc/{os.getppid()}/fd/1', 'w') as f:\n        f.write(line)\n    os._exit(0)\n", ("docker", "process"), "Error"),
    ("forge_verdict_channel", "import os, json\ndef solve(x):\n    for fd in range(3, 64):\n        try:\n"
     "            for i in range(3):\n                os.write(fd, (json.dumps({'k': 'begin', 'i': i}) + '\\n' + json.dumps({'k': 'end', 'i': i, 'passed': True}) + '\\n').encode())\n"
     "        except OSError:\n            pass\n    os._exit(0)\n", ("docker", "process"), None),
    ("flood_verdict_channel", "import os\ndef solve(x):\n    for fd in range(3, 64):\n        try:\n"
     "            while True:\n                os.write(fd, b'x' * 65536)\n        except OSError:\n            pass\n    return x * 2\n",
     ("docker", "process"), None),
    ("patch_builtins", "import builtins\nbuiltins.AssertionError = type('Nope', (BaseException,), {})\n"
     "builtins.print = lambda *a, **k: None\ndef solve(x):\n    return x + 100\n", ("docker", "process"), "assert"),
    ("patch_builtins_the_checker_uses", "import builtins, json\nbuiltins.isinstance = lambda *a: True\nbuiltins.len = lambda *a: 0\n"
     "json.dumps = lambda *a, **k: '{}'\ndef solve(x):\n    return x + 100\n", ("docker", "process"), None),
    ("override_eq", "class Anything:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\n"
     "def solve(x):\n    return Anything()\n", ("docker", "process"), "only builtin values"),
    ("int_subclass_eq", "class Sly(int):\n    def __eq__(self, other):\n        return True\n    __hash__ = int.__hash__\n"
     "def solve(x):\n    return Sly(0)\n", ("docker", "process"), "only builtin values"),
    ("rewrite_test_functions", "import gc\ndef solve(x):\n    for obj in gc.get_objects():\n"
     "        if callable(obj) and getattr(obj, '__name__', '').startswith('test_'):\n            obj.__code__ = (lambda candidate: None).__code__\n"
     "    return x + 100\n", ("docker", "process"), "assert"),
    ("ptrace_the_checker", "import ctypes, os\ndef solve(x):\n    libc = ctypes.CDLL(None, use_errno=True)\n"
     "    if libc.ptrace(16, os.getppid(), 0, 0) != 0:\n        raise PermissionError('ptrace refused')\n    return x * 2\n",
     ("docker", "process"), "ptrace refused"),
    ("huge_return_value", "def solve(x):\n    return list(range(2_000_000))\n", ("docker", "process"), None),
    ("recursion_bomb", "def solve(x):\n    return solve(x)\n", ("docker", "process"), "RecursionError"),
    ("thread_bomb", "import threading, time\ndef solve(x):\n    while True:\n        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n",
     ("docker", "process"), None),
    ("overwrite_runner", "import sys\nPATH = sys.argv[-1] if False else {RUNNER}\ndef solve(x):\n    open(PATH, 'a').write('#')\n    return x * 2\n",
     ("docker", "process"), "Error"),
    ("reach_docker_socket", "import socket\ndef solve(x):\n    s = socket.socket(socket.AF_UNIX)\n    s.connect('/var/run/docker.sock')\n    return x * 2\n",
     ("docker", "process"), "Error"),
    # --- the tests and the harness are out of the candidate's reach
    ("rewrite_tests_file", "open('tests.py', 'w').write('def test_one(c):\\n    pass\\ndef test_two(c):\\n    pass\\n"
     "def test_three(c):\\n    pass\\n')\nimport json\nspec = json.load(open('job.json'))\nspec['names'] = []\n"
     "open('job.json', 'w').write(json.dumps(spec))\ndef solve(x):\n    return x + 100\n", ("docker", "process"), "assert"),
    ("replace_tests_file_during_checks", "import os\ndef solve(x):\n    open('t2', 'w').write('def test_one(c):\\n    pass\\n')\n"
     "    os.replace('t2', 'tests.py')\n    return x + 100\n", ("docker", "process"), "assert"),
    ("fifo_and_symlink_in_job_dir", "import os\nfor name in ('tests.py', 'solution.py', 'job.json'):\n    os.unlink(name)\n"
     "os.mkfifo('tests.py'); os.mkfifo('solution.py'); os.symlink('/etc/passwd', 'job.json')\n"
     "os.symlink('loop', 'loop'); os.mkfifo('/dev/shm/fifo')\ndef solve(x):\n    os._exit(0)\n", ("docker", "process"),
     "stopped during this check"),
    ("symlink_to_runner_in_locked_dir", "import os\nos.makedirs('d/e')\nos.symlink({RUNNER}, 'd/e/runner')\nos.symlink({RUNNER}, 'd/runner')\n"
     "os.chmod('d/e', 0); os.chmod('d', 0o500)\ndef solve(x):\n    return x + 100\n", ("docker", "process"), "assert"),
    ("shadow_stdlib_modules", SHADOW, ("docker", "process"), "ValueError"),
    ("deep_and_huge_records", "import os\ndef solve(x):\n    deep = b'[' * 200000 + b']' * 200000\n    for fd in range(3, 64):\n"
     "        try:\n            os.write(fd, b'{\"k\": \"call\", \"i\": 0, \"ret\": ' + deep + b'}\\n')\n"
     "            os.write(fd, b'{\"k\": \"call\", \"i\": 0, \"ret\": {\"t\": \"int\", \"v\": \"' + b'9' * 100000 + b'\"}}\\n')\n"
     "        except OSError:\n            pass\n    return x + 100\n", ("docker", "process"), None),
    # --- a job that exhausts what it may use fails itself only (and never as an infrastructure error)
    ("exhaust_open_files", "import os\nfds = []\ntry:\n    while True:\n        fds.append(os.open('/dev/null', os.O_RDONLY))\n"
     "except OSError:\n    pass\ndef solve(x):\n    return x + 100\n", ("docker", "process"), "assert"),
    ("exhaust_inodes", "import os\ni = 0\ntry:\n    while i < 200000:\n        open(f'i{i}', 'w').close()\n        i += 1\n"
     "except OSError:\n    pass\ndef solve(x):\n    return x + 100\n", ("docker", "process"), "assert"),
    ("exhaust_processes_and_stay", "import os, time\nkids = 0\ntry:\n    while True:\n        if os.fork() == 0:\n            os.setsid()\n"
     "            time.sleep(4242)\n            os._exit(0)\n        kids += 1\nexcept OSError:\n    pass\ndef solve(x):\n    return x + 100\n",
     ("docker", "process"), None),
    ("break_own_interpreter", "import sys, gc, builtins\nsys.setrecursionlimit(60)\nfor m in list(sys.modules):\n"
     "    if m not in ('sys', 'builtins'):\n        del sys.modules[m]\nbuiltins.__import__ = None\ngc.disable()\n"
     "def solve(x):\n    return x + 100\n", ("docker", "process"), None),
    ("close_every_fd", "import os\nos.closerange(0, 4096)\ndef solve(x):\n    return x + 100\n", ("docker", "process"), None),
    ("stop_own_checker", "import os, signal\ndef solve(x):\n    os.kill(os.getppid(), signal.SIGSTOP)\n    return x + 100\n",
     ("docker", "process"), "time limit"),
    ("prlimit_own_checker", "import os, resource\ndef solve(x):\n    for r in (resource.RLIMIT_NOFILE, resource.RLIMIT_AS, resource.RLIMIT_NPROC):\n"
     "        try:\n            resource.prlimit(os.getppid(), r, (1, 1))\n        except (OSError, ValueError):\n            pass\n"
     "    return x + 100\n", ("docker", "process"), None),
    ("leave_daemon_behind", f"import os\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        os.execvp('sleep', ['sleep', '{MARK}'])\n    os._exit(0)\n"
     "def solve(x):\n    return x - 1\n", ("docker", "process"), None),
]
PARAMS = [pytest.param(backend, case, id=f"{backend}-{case[0]}") for case in CASES for backend in case[2]]


@pytest.fixture(scope="module", autouse=True)
def host_secret():
    with open(SECRET, "w") as f:
        f.write("the host's secret")
    os.chmod(SECRET, 0o600)
    yield
    os.unlink(SECRET)


def _host_processes_with(marker: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if f"sleep {marker}" in line and "ps -eo" not in line]


def _runner_hash(backend: str) -> str:
    with open(runner_module.__file__, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest() + oct(os.stat(runner_module.__file__).st_mode)


def assert_unharmed(sb, runner_hash: str) -> None:
    """The host and the pool are as they were."""
    honest = run_tests(HONEST, TESTS, entry_point="solve", sandbox=sb)
    assert honest.passed and honest.status == Status.OK, honest
    stats = sb.pool.stats()
    assert stats["live"] <= stats["size"]
    deadline = time.monotonic() + 15
    while _host_processes_with(MARK) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _host_processes_with(MARK), "a process the attack started is still alive on the host"
    with open(SECRET) as f:
        assert f.read() == "the host's secret"
    assert _runner_hash(sb.name) == runner_hash
    for listener in (LISTEN4, LISTEN6):
        if listener is not None:
            with pytest.raises(BlockingIOError):
                listener.accept()  # nobody connected
    if sb.name == "docker":
        from selfgym.verifiers.docker_backend import POOL_LABEL

        deadline = time.monotonic() + 15
        while True:
            ours = sb.api.containers(all=True, filters={"label": f"{POOL_LABEL}={sb.pool_id}"})
            if len(ours) <= stats["size"] + 1 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert len(ours) <= stats["size"] + 1  # one may still be on its way out


@pytest.mark.docker
@pytest.mark.parametrize("backend,case", PARAMS)
def test_attack_fails_and_harms_nothing(request, backend, case):
    name, code, _, phrase = case
    sb = request.getfixturevalue(f"{backend}_sandbox")
    code = code.replace("{RUNNER}", repr(RUNNER_IN[backend]))
    before = _runner_hash(backend)
    v = run_tests(code, TESTS, entry_point="solve", sandbox=sb)
    assert v.status == Status.TASK_FAILURE, (name, v)
    assert not v.passed and v.reward == 0.0, (name, v)
    if phrase:
        assert phrase in v.error, (name, v.error)
    assert_unharmed(sb, before)


@pytest.mark.parametrize("backend", ["docker", "process"])
def test_nothing_carries_over_to_the_next_job(backend):
    """Files in every writable place and background processes are gone before the next job."""
    from selfgym.verifiers import get_sandbox
    from tests.verifiers.conftest import FAST

    sb = get_sandbox(backend, limits=FAST, pool_size=1)
    try:
        plant = ("import os\nfor d in ('.', os.environ.get('TMPDIR', '.'), '..', '/dev/shm', os.path.expanduser('~')):\n"
                 "    try:\n        open(os.path.join(d, 'left-behind'), 'w').write('secret of job 1')\n    except OSError:\n        pass\n"
                 "os.makedirs('locked/inner'); os.chmod('locked', 0)\n"
                 f"if os.fork() == 0:\n    os.setsid()\n    os.execvp('sleep', ['sleep', '{MARK}'])\nprint(os.path.abspath('.'))\n")
        first = sb.run({"plant.py": plant}, ["python3", "plant.py"])
        assert first.ok, first
        jobdir = first.stdout.strip()
        look = ("import os\nfound = []\nfor top in (os.path.dirname(os.getcwd()), '/dev/shm'):\n"
                "    for root, dirs, files in os.walk(top):\n        found += [os.path.join(root, f) for f in files if f != 'look.py']\n"
                "        found += [os.path.join(root, d) for d in dirs if d == 'locked']\n"
                f"procs = [open(f'/proc/{{p}}/cmdline').read() for p in os.listdir('/proc') if p.isdigit() and os.path.exists(f'/proc/{{p}}/cmdline')]\n"
                f"print(found, [c for c in procs if '{MARK}' in c])\n")
        second = sb.run({"look.py": look}, ["python3", "look.py"])
        assert second.ok, second
        assert second.stdout.strip() == "[] []"
        assert not os.path.exists(jobdir) or backend == "docker"
        assert not _host_processes_with(MARK)
    finally:
        sb.close()
