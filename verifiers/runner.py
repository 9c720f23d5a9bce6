"""The trusted job runner: one per container (as PID 1) or per local worker process.

This file runs *inside* the sandbox with the standard library only, so the image needs nothing
but ``python3``. It never executes candidate code itself.

Protocol: on stdin (or the unix socket given by ``--connect``), frames of a 4-byte big-endian
length and a JSON job; on stdout (or that socket), one frame per job with the JSON result. The first frame it writes is ``{"ready": true, ...}``.

Job: ``{"files": {path: str | {"b64": str}}, "command": [...], "stdin": b64 | null,
"limits": {...}}``. Result: ``{"exit_code", "stdout", "stderr", "wall_s", "cpu_s", "outcome",
"truncated", "recycle"}``; ``recycle`` asks the host to replace this runner (a limit was hit, or
the job left processes or files behind, or it hurt the runner).

How a job runs: at start the runner forks a *zygote* that has imported the common modules and
has never seen any job data. The zygote keeps one fresh child forked ahead (so the fork is off
the job's critical path), hands the runner that child's job socket and output pipes when a job
comes, and reports the child's exit status and CPU time. The child
reads its job, makes a session of its own, writes the files into an empty work directory, sets
its rlimits and runs the command: ``python3 script.py ...`` runs in the child itself (no
interpreter start-up, which is what makes a job cost about a millisecond), anything else is
``exec``-ed. After the job the runner answers, gives the caller a moment (``CLEAN_GRACE_S``, cut
short by the next job) to read that answer, then kills whatever the job left running, empties
the work directory and removes the IPC objects it made. It first checks cheaply whether there is
anything to do: in a container, the pids cgroup's count (3 when only the runner, the zygote and
its child forked ahead exist) spares the walk of the process tree, and the SysV ``*_INFO``
counts spare reading /proc/sysvipc; a work directory that holds only files goes with one unlink
per file. Any doubt takes the full path.

Who may touch whom: jobs never share a uid with the machinery that serves later jobs. In a
container the runner starts as root with only CAP_SETUID/CAP_SETGID; the zygote and the child
forked ahead stay uid 0 until the child takes a job and drops to the job uid, and the runner
itself keeps a saved uid of 0, so a job can neither signal nor ``prlimit`` the runner, the
zygote or the next job's child. The local runner (as root) drops each job to a uid of its own.
Process counts are limited by the container's pids cgroup under docker and, locally, by
RLIMIT_NPROC on that runner's own uid, never by a limit that counts other runners' processes.
IPC: a local runner as root gives every job a fresh IPC namespace; a container's runner removes
every SysV and POSIX IPC object after each job (all of them were made by the job uid).
A trusted script (the check harness) gets a *start pipe*: it writes one byte there once it has
loaded everything it needs, before any task or candidate code runs. If it ends without that
byte, the failure cannot be the candidate's and is reported as an infrastructure error. Its
process also holds a second end of that pipe (DONE_FD), which the script is not told of and its
workers close: once the script has finished, the runner's code there reports its exit code and
CPU time on it and closes the output, and the runner answers without waiting for the process's
exit; it awaits the zygote's report of that exit before cleaning, and retires if they differ.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import json
import os
import select
import signal
import socket
import stat
import struct
import sys
import time

# Warm modules for the zygote's children (imported once here, shared copy-on-write).
import bisect, collections, functools, heapq, io, itertools, math, re, resource, runpy, selectors, string, threading, traceback, typing  # noqa: E401,F401
import pkgutil  # noqa: F401  (runpy needs it)

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
START_FD_ENV = "SELFGYM_START_FD"
#: In a trusted script's process, the runner's own copy of the start pipe (the script is not told
#: of it and its workers close it): where it reports, once the script has finished, how it ended.
DONE_FD = 4
#: How long the runner waits, after an early answer, for the zygote to report that child's end.
FINISH_TIMEOUT_S = 10.0
#: After answering, how long the runner waits (unless the next job comes first) before it cleans.
CLEAN_GRACE_S = 0.002
SYSVIPC = (("/proc/sysvipc/shm", "shmctl"), ("/proc/sysvipc/sem", "semctl"), ("/proc/sysvipc/msg", "msgctl"))
IPC_RMID = 0
SHM_INFO, MSG_INFO, SEM_INFO = 14, 12, 19
MQUEUE_DIR = "/dev/mqueue"
#: The directory a trusted script may import from: the interpreter's own library, never a job's.
STDLIB_PATH: list = []
#: Source text of each trusted script -> its path in PRECOMPILED.
SOURCES: dict = {}
#: Set by ``main``: "nproc" (the job uid is this runner's alone: enforce ``pids`` with RLIMIT_NPROC).
OPTIONS: dict = {}
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 2, 4, 16384, 1 << 18
PYTHONS = ("python", "python3", "/usr/bin/python3", "/usr/local/bin/python3")
OOM_CONTROL = "/sys/fs/cgroup/memory/memory.oom_control"
_libc = None
HERE = os.path.dirname(os.path.abspath(__file__))
#: Trusted scripts that sit next to this file, compiled once at start (path -> code object).
PRECOMPILED: dict = {}
#: Trusted scripts with a ``main()`` whose module body the runner ran once at start, before any
#: job, importing from STDLIB_PATH only (path -> its globals); a job calls only ``main()``.
PRELOADED: dict = {}


def _prctl(option: int, value: int) -> None:
    global _libc
    try:
        _libc = _libc or ctypes.CDLL(None, use_errno=True)
        _libc.prctl(option, value, 0, 0, 0)
    except OSError:
        pass


# ----------------------------------------------------------------------------------- framing
def read_exact(fd: int, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        b = os.read(fd, n - got)
        if not b:
            return None
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)


def read_frame(fd: int):
    head = read_exact(fd, 4)
    if head is None:
        return None
    body = read_exact(fd, struct.unpack(">I", head)[0])
    return None if body is None else json.loads(body)


def write_frame(fd: int, obj) -> None:
    data = json.dumps(obj).encode()
    data = struct.pack(">I", len(data)) + data
    while data:
        data = data[os.write(fd, data):]


# ------------------------------------------------------------------------------------ zygote
class Zygote:
    """A clean process that forks one fresh child per job and reports how it ended."""

    def __init__(self, user: int | None, ipc_ns: bool = False):
        self.user = user
        self.ctl, theirs = socket.socketpair()
        self.pid = os.fork()
        if self.pid == 0:
            self.ctl.close()
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 0)
            os.dup2(devnull, 1)
            import gc

            # what start-up left as garbage, and the free memory it leaves, would otherwise be
            # copied into (and torn down with) two processes per job
            gc.collect()
            try:
                (_libc or ctypes.CDLL(None)).malloc_trim(0)
            except (OSError, AttributeError):  # not glibc
                pass
            gc.freeze()  # the collector in each child never walks (and so never copies) our objects
            _zygote_loop(theirs, user, ipc_ns)
            os._exit(0)
        theirs.close()

    def spawn(self, timeout: float = 30.0):
        """Fork a child; returns (pid, job socket, stdout fd, stderr fd, start-pipe fd)."""
        self.ctl.settimeout(timeout)
        try:
            self.ctl.sendall(b"F")
            msg, fds, _flags, _addr = socket.recv_fds(self.ctl, 64, 4)
        finally:
            self.ctl.settimeout(None)
        if not msg or len(fds) != 4:
            for fd in fds:
                os.close(fd)
            raise EOFError("zygote gone")
        return int(msg), socket.socket(fileno=fds[0]), fds[1], fds[2], fds[3]

    def alive(self) -> bool:
        """False once the zygote's end of the control socket has closed (it has died)."""
        try:
            if not select.select([self.ctl], [], [], 0)[0]:
                return True
            return self.ctl.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
        except BlockingIOError:
            return True
        except OSError:
            return False

    def read_status(self) -> dict | None:
        """The status line the zygote writes when the child exits (None when it is gone)."""
        buf = b""
        while not buf.endswith(b"\n"):
            b = self.ctl.recv(4096)
            if not b:
                return None
            buf += b
        return json.loads(buf)


def _discard_child(ready) -> None:
    """Kill a child taken from the zygote that will get no job, and close our ends of its pipes."""
    pid, sock, out_r, err_r, st_r = ready
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    sock.close()
    for fd in (out_r, err_r, st_r):
        os.close(fd)


def _fork_retrying(limit_s: float = 20.0) -> int:
    """fork(), waiting while the last job's processes still fill the pids limit (the runner is
    killing them): a job that exhausts its processes must not take the zygote with it."""
    end = time.monotonic() + limit_s
    while True:
        try:
            return os.fork()
        except (BlockingIOError, MemoryError, OSError):
            if time.monotonic() > end:
                raise
            time.sleep(0.005)


def _prepare_child(ctl: socket.socket, user: int | None, ipc_ns: bool, retrying: bool):
    """Fork the child for the next job (it waits for its job on a socket); None when the fork
    fails and ``retrying`` is False."""
    ours, theirs = socket.socketpair()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    st_r, st_w = os.pipe()
    os.set_blocking(st_r, False)  # read once the job has ended (``_read_ready``): never waits
    try:
        pid = _fork_retrying() if retrying else os.fork()
    except OSError:
        if retrying:
            raise
        for fd in (out_r, out_w, err_r, err_w, st_r, st_w):
            os.close(fd)
        ours.close()
        theirs.close()
        return None
    if pid == 0:
        ctl.close()
        ours.close()
        os.close(out_r)
        os.close(err_r)
        os.close(st_r)
        _child_main(theirs, out_w, err_w, st_w, user, ipc_ns)
    theirs.close()
    os.close(out_w)
    os.close(err_w)
    os.close(st_w)
    return pid, ours, out_r, err_r, st_r


def _zygote_loop(ctl: socket.socket, user: int | None, ipc_ns: bool) -> None:
    """Keep one child forked ahead, hand it over on request, report how it ended; repeat.

    The next child is forked as soon as one is handed over, while its job runs, so a job never
    waits for a fork (when the job's processes fill the pids limit, after the job instead)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ready = None
    while True:
        if ready is None:
            ready = _prepare_child(ctl, user, ipc_ns, retrying=True)
        pid, ours, out_r, err_r, st_r = ready
        if not ctl.recv(1):  # the runner is gone: so is the waiting child
            os.kill(pid, signal.SIGKILL)
            return
        socket.send_fds(ctl, [str(pid).encode()], [ours.fileno(), out_r, err_r, st_r])
        ours.close()
        os.close(out_r)
        os.close(err_r)
        os.close(st_r)
        ready = _prepare_child(ctl, user, ipc_ns, retrying=False)
        _, status, ru = os.wait4(pid, 0)
        # "ready": a child is forked ahead and none will be forked before the next request (when
        # none is, the loop forks one now, while the runner cleans: its process count moves)
        ctl.sendall(json.dumps({"status": status, "cpu_s": ru.ru_utime + ru.ru_stime,
                                "ready": ready is not None}).encode() + b"\n")


# ------------------------------------------------------------------------------------- child
def _warm_up() -> None:
    """In the child forked ahead, before its job arrives: do once, on dummy data, what taking a
    job does first (decode a frame, open files and text streams), so that the pages this writes
    are copied from the zygote now, while the child waits, instead of while its job waits (about
    150 of the ~290 page copies between a job's arrival and its script; the total stays)."""
    try:
        job = json.loads(b'{"files": {"a.py": "x", "b": {"b64": ""}}, "command": ["python3", "a.py"], '
                         b'"stdin": null, "limits": {"timeout_s": 1.0, "memory_mb": 1}}')
        struct.unpack(">I", b"\0\0\0\1")
        for rel, content in job["files"].items():
            os.path.isabs(rel)
            isinstance(content, dict)
        with open(os.devnull, "rb") as f:
            f.read()
        with open(os.devnull) as f:
            f.read()
        with open(os.devnull, "w", buffering=1) as f:
            f.write("")
    except Exception:  # noqa: BLE001 - only a head start: the job does all of this again for real
        pass


def _child_main(sock: socket.socket, out_w: int, err_w: int, st_w: int, user: int | None, ipc_ns: bool) -> None:
    """Set up and run one job; never returns."""
    started = False
    _warm_up()
    try:
        head = b""
        while len(head) < 4:
            head += sock.recv(4 - len(head)) or b"!" * 4
        n = struct.unpack(">I", head)[0]
        body = bytearray()
        while len(body) < n:
            b = sock.recv(min(1 << 20, n - len(body)))
            if not b:
                break
            body += b
        job = json.loads(bytes(body))
        sock.close()
        os.setsid()
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.close(out_w)
        os.close(err_w)
        lim = job["limits"]
        if ipc_ns and _libc.unshare(CLONE_NEWIPC) != 0:  # a fresh, empty IPC namespace for this job
            raise OSError(ctypes.get_errno(), "cannot make an IPC namespace for the job")
        if user is not None:  # drop to the job uid (and lose every capability)
            os.setgroups([])
            os.setresgid(user, user, user)
            os.setresuid(user, user, user)
        try:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write("1000")
        except OSError:
            pass
        jobdir = os.path.join(job["workdir"], "job")
        os.mkdir(jobdir, 0o700)
        os.chdir(jobdir)
        for rel, content in job["files"].items():
            if os.path.isabs(rel) or ".." in rel.split("/"):
                raise ValueError(f"file path must be relative and inside the work dir: {rel!r}")
            if os.path.dirname(rel):
                os.makedirs(os.path.dirname(rel), exist_ok=True)
            data = base64.b64decode(content["b64"]) if isinstance(content, dict) else content.encode()
            fd = os.open(rel, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)  # as open(rel, "xb")
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
        stdin_fd = os.open(os.devnull, os.O_RDONLY)
        if job.get("stdin"):
            path = os.path.join(jobdir, ".stdin")
            with open(path, "xb") as f:
                f.write(base64.b64decode(job["stdin"]))
            stdin_fd = os.open(path, os.O_RDONLY)
            os.unlink(path)
        os.dup2(stdin_fd, 0)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": jobdir, "TMPDIR": jobdir,
               "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
        import resource as r

        mb = 1 << 20
        limits = [(r.RLIMIT_AS, lim["memory_mb"] * mb), (r.RLIMIT_CPU, int(lim["timeout_s"]) + 2),
                  (r.RLIMIT_FSIZE, lim["file_size_mb"] * mb), (r.RLIMIT_NOFILE, lim["nofile"]), (r.RLIMIT_CORE, 0)]
        if OPTIONS.get("nproc"):  # a local runner's own job uid: the count is this runner's jobs' alone
            limits.append((r.RLIMIT_NPROC, lim["pids"]))
        for res, value in limits:
            r.setrlimit(res, (value, value))
        cmd = job["command"]
        trusted = None  # the path of a trusted script in PRECOMPILED
        if cmd[0] in PYTHONS and len(cmd) >= 2 and not cmd[1].startswith("-"):
            path = os.path.abspath(cmd[1])
            trusted = path if path in PRECOMPILED else None
            if trusted is None and os.path.dirname(path) == HERE:
                raise LookupError(f"the runner has no trusted script {cmd[1]!r}")
            shipped = job["files"].get(cmd[1])
            if trusted is None and isinstance(shipped, str) and shipped in SOURCES:
                # a job that ships our own harness (e.g. through a remote service) runs it as ours
                trusted = SOURCES[shipped]
        if trusted is not None:  # keep the start pipe at a known fd for the trusted script
            os.dup2(st_w, 3)
            os.dup2(st_w, DONE_FD)
            os.closerange(DONE_FD + 1, 65536)
            env[START_FD_ENV] = "3"
        else:
            os.closerange(3, 65536)
        started = True
        if cmd[0] in PYTHONS and len(cmd) >= 2 and not cmd[1].startswith("-"):
            _run_python_here(cmd[1:], env, jobdir, trusted)
        os.execvpe(cmd[0], cmd, env)
    except BaseException as exc:  # noqa: BLE001 - setup failed: report on the job's stderr
        try:
            where = traceback.extract_tb(exc.__traceback__)[-1]
            os.write(2, f"selfgym runner: could not start the job: {exc!r} (runner line {where.lineno})\n".encode())
            if not started:  # say on the start pipe whose doing it was
                jobs = isinstance(exc, ValueError) or isinstance(exc, OSError) and exc.errno in (27, 28, 122)
                # a bad path, or files too big for the job's disk (EFBIG, ENOSPC, EDQUOT): the job's;
                # anything else: ours
                os.write(st_w, b"T" if jobs else b"I" + repr(exc).encode()[:200])
        finally:
            os._exit(127)


def _private_namespaces(workdir: str, tmpfs_mb: int) -> None:
    """Local runner as root, once at start: an empty network namespace, and a mount namespace in
    which the work directory, /tmp, /var/tmp and /dev/shm are fresh size-capped tmpfs."""
    if _libc.unshare(CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC) != 0:
        raise OSError(ctypes.get_errno(), "unshare failed")
    if _libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "cannot make mounts private")
    small = b"size=8m,nr_inodes=4096,mode=1777"
    for path, opts in ((b"/tmp", small), (b"/var/tmp", small), (b"/dev/shm", small),
                       (workdir.encode(), f"size={tmpfs_mb}m,nr_inodes={max(1024, tmpfs_mb * 256)},mode=1777".encode())):
        os.makedirs(path, exist_ok=True)
        if _libc.mount(b"tmpfs", path, b"tmpfs", MS_NOSUID | MS_NODEV, opts) != 0:
            raise OSError(ctypes.get_errno(), f"cannot mount a tmpfs on {path.decode()}")


def _run_python_here(argv: list[str], env: dict, jobdir: str, trusted=None) -> None:
    """Run ``python3 script args`` inside this fresh child, as the interpreter would.

    A trusted script (``trusted``: its path in PRECOMPILED, compiled by the runner at start)
    runs in isolated mode: it imports only from the interpreter's own library, never from the
    job's directory, which the job can write. One the runner has already loaded (PRELOADED: its
    module body run once at start, so each job only calls its ``main()``) skips even that.
    """
    # exactly ``env``, changing only what differs (every write here copies a page of the zygote's)
    for key in [k for k in os.environ if k not in env]:
        del os.environ[key]
    for key, value in env.items():
        if os.environ.get(key) != value:
            os.environ[key] = value
    sys.argv = list(argv)
    if trusted is not None:
        sys.path[:] = list(STDLIB_PATH)
    else:
        sys.path[:] = [jobdir] + [p for p in sys.path if p and os.path.abspath(p) != HERE]
    # sys.path_importer_cache is kept: it holds finders for the interpreter's read-only library
    # only (the zygote imported nothing else), and emptying it cost ~75 page copies a job.
    sys.stdin = sys.__stdin__ = open(0, "r", closefd=False)
    sys.stdout = sys.__stdout__ = open(1, "w", closefd=False, buffering=1)
    sys.stderr = sys.__stderr__ = open(2, "w", closefd=False, buffering=1)
    code = 0
    try:
        if trusted in PRELOADED:  # our own harness, loaded at start: run its main() as the script would
            raise SystemExit(PRELOADED[trusted]["main"]())
        if trusted is not None:  # skip reading and compiling it per job
            exec(PRECOMPILED[trusted], {"__name__": "__main__", "__file__": argv[0], "__builtins__": __builtins__})
        else:
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except BaseException:  # noqa: BLE001 - the job's own program: anything it raises is its failure
        traceback.print_exc()
        code = 1
    try:
        for t in threading.enumerate():
            if t is not threading.main_thread() and not t.daemon:
                t.join()
        import atexit

        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001 - the job's streams may be broken; exiting matters more
        pass
    if trusted is not None:
        _report_done(code)
    os._exit(code)


def _report_done(code: int) -> None:
    """A trusted script has finished (its output flushed): say so on DONE_FD, with its exit
    code and CPU time (its workers' included), then close its output. The runner, seeing the
    output end and this report, answers at once instead of after this process's exit (the
    teardown of its memory, then the zygote's report), which it awaits after answering."""
    try:
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
        os.write(DONE_FD, b"D" + json.dumps({"code": code, "cpu_s": cpu}).encode())
        os.close(1)
        os.close(2)
    except BaseException:  # noqa: BLE001 - no report: the runner waits for the exit as for any job
        pass


def _exit_code(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        print(code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - stderr may be closed by the job
        pass
    return 1


# ------------------------------------------------------------------------------------ runner
class Runner:
    def __init__(self, workdir: str, user: int | None, ipc_ns: bool = False, private_tmp: bool = False):
        self.workdir = workdir
        self.user = user
        self.ipc_ns = ipc_ns
        self.zygote = Zygote(user, ipc_ns)
        # /tmp, /var/tmp and /dev/shm are ours alone only as a container's init or once our own
        # mount namespace gave us fresh tmpfs there; otherwise they are the host's: never empty them.
        private = os.getpid() == 1 or private_tmp
        # A read-only mount (the container's /tmp and /var/tmp, on its read-only root) can gain no
        # entry, and no job can remount it writable: nothing to empty there.
        self.cleanup_dirs = [workdir] + ([d for d in ("/dev/shm", "/tmp", "/var/tmp") if not _read_only(d)]
                                         if private else [])
        # Without a namespace per job, IPC objects are removed after each job; only where this
        # runner owns the IPC namespace (a container), never the host's.
        self.clean_ipc = os.getpid() == 1 and not ipc_ns
        #: The next job's child, taken from the zygote while no job runs (see ``prefetch``).
        self.ready = None
        #: The container's pids cgroup counter, when this runner is a container's init and that
        #: cgroup is its own (see ``_kill_strays``); None elsewhere.
        self.pids_current = _own_pids_counter() if os.getpid() == 1 else None
        #: Set by ``run``: the zygote said that it holds a child forked ahead and forks nothing
        #: more until asked (so this runner, the zygote and that child are all that should run).
        self.clean_ready = False
        #: The cgroup's OOM kill count, read while idle, after cleaning (None: read it per job).
        self.oom_kills = None
        #: After an early answer (see ``_report_done``): the exit code the harness reported, until
        #: the zygote confirms it (``_finish``).
        self.pending = None

    def prefetch(self) -> None:
        """Take the next job's child (its socket and pipes) from the zygote now, after cleaning,
        so that a job that arrives meets a child at hand instead of a round trip to the zygote.
        The child stays root, waiting for its job, so cleaning keeps it; on failure the next job
        asks the zygote itself (and reports the zygote gone when it is)."""
        if self.ready is None and self.zygote.pid > 0:
            try:
                self.ready = self.zygote.spawn()
            except (OSError, EOFError, ValueError):
                self.ready = None
        self.oom_kills = _oom_kills()  # no process of a job is left: what a job adds is its own

    def run(self, job: dict) -> dict:
        lim = job["limits"]
        cap = int(lim["output_bytes"])
        job["workdir"] = self.workdir
        oom_before = self.oom_kills if self.oom_kills is not None else _oom_kills()
        self.oom_kills = None
        self.clean_ready = False
        t0 = time.monotonic()
        ready, self.ready = self.ready, None
        if ready is not None and not self.zygote.alive():
            # taken while idle from a zygote that has died since: its child could not report
            # how the job ended, so the job goes elsewhere, as when the zygote is found gone below
            _discard_child(ready)
            ready = None
        try:
            pid, sock, out_r, err_r, st_r = ready or self.zygote.spawn()
        except (OSError, EOFError, ValueError):
            return {"infra_error": "the runner's zygote is gone", "recycle": True}
        data = job.pop("_raw", None) or json.dumps(job).encode()
        try:
            sock.sendall(struct.pack(">I", len(data)) + data)
        except OSError:
            pass
        sock.close()
        out, err = bytearray(), bytearray()
        bufs = {out_r: out, err_r: err}
        ctl = self.zygote.ctl.fileno()
        sel = select.poll()  # no descriptor of its own to make and close per job, unlike epoll
        # The start pipe is not watched: it carries at most a few hundred bytes (a pipe holds
        # 64 KiB), written before the job's script runs, and is read once the job has ended, so
        # the runner is not woken (and does not take the CPU from the job) while the job starts.
        for fd in (out_r, err_r, ctl):
            sel.register(fd, select.POLLIN)
        deadline = t0 + float(lim["timeout_s"])
        reason, status, truncated, recycle, wall = None, None, False, False, None
        trusted, start = self._trusted(job), b""
        wall_end = t0  # set when the job's status arrives
        open_pipes = 2
        while True:
            now = time.monotonic()
            if status is not None and (open_pipes == 0 or now > wall_end + 0.05):
                break
            if reason is None and now > deadline:
                reason = "timeout"
                _killpg(pid)
            timeout = (deadline - now) if reason is None else 0.05
            if status is not None:
                timeout = max(0.0, wall_end + 0.05 - now)
            for fd, _ in sel.poll(max(0.0, timeout) * 1000.0):
                if fd == ctl:
                    if self.pending is not None:  # answered early: that report is read after (_finish)
                        continue
                    sel.unregister(fd)
                    status = self.zygote.read_status()
                    self.clean_ready = bool(status and status.get("ready"))
                    wall = time.monotonic() - t0
                    wall_end = time.monotonic()
                    if status is None:
                        recycle = True
                        reason = reason or "killed"
                        status = {"status": 9, "cpu_s": 0.0}
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    sel.unregister(fd)
                    open_pipes -= 1
                    if open_pipes == 0 and status is None and reason is None and trusted:
                        start += _read_ready(st_r, 512)
                        status = _done_report(start)
                        if status is not None:  # the harness has finished: answer now (see _report_done)
                            self.pending = os.WEXITSTATUS(status["status"])
                            wall = time.monotonic() - t0
                            wall_end = time.monotonic()
                            sel.unregister(ctl)
                    continue
                bufs[fd] += chunk
                if len(out) + len(err) > cap and reason is None:
                    reason, truncated = "output_limit", True
                    _killpg(pid)
            if reason is not None and status is None and time.monotonic() > deadline + 5:
                recycle = True  # the child would not die
                status = {"status": 9, "cpu_s": 0.0}
                wall = time.monotonic() - t0
                wall_end = time.monotonic()
        os.close(out_r)
        os.close(err_r)
        start += _read_ready(st_r, 512 - len(start))
        os.close(st_r)
        st = status["status"]
        if os.WIFSIGNALED(st):
            code = -os.WTERMSIG(st)
        else:
            code = os.WEXITSTATUS(st) if os.WIFEXITED(st) else -9
        if reason is None:
            if _oom_kills() > oom_before:  # the kernel killed some process of this job for memory
                reason = "memory"
            elif code == -signal.SIGXCPU:
                reason = "timeout"
            elif code < 0:
                reason = "killed"
            elif code != 0 and b"MemoryError" in err[-2000:]:
                reason = "memory"
            else:
                reason = "ok"
        if reason != "ok":
            recycle = True
        if start[:1] == b"I":  # the job could not be set up, for no fault of its own
            return {"infra_error": "the runner could not set up the job: " + start[1:].decode("utf-8", "replace"),
                    "recycle": True}
        if self._trusted(job) and start[:1] not in (b"S", b"T") and reason != "timeout":
            # the check harness ended before it ran any task or candidate code: not the candidate's doing
            tail = bytes(err[-300:]).decode("utf-8", "replace").strip()
            return {"infra_error": f"the checker failed before it ran any task code (status {code}): {tail}",
                    "recycle": True}
        if len(out) > cap or len(err) > cap:
            truncated = True
        return {"exit_code": code, "stdout": bytes(out[:cap]).decode("utf-8", "replace"),
                "stderr": bytes(err[:cap]).decode("utf-8", "replace"), "wall_s": wall,
                "cpu_s": status["cpu_s"], "outcome": reason, "truncated": truncated, "recycle": recycle,
                "recycle_why": ""}

    def clean(self) -> str:
        """After the result is sent and before the next job is read: kill what the job left,
        empty the writable places and the IPC namespace. Returns why this runner must retire
        ("" when it is clean)."""
        why = []
        late = self._finish()
        if late:
            why.append(late)
        try:
            if self._kill_strays():
                why.append("left processes")
            if not self._clean_files():
                why.append("left files that could not be removed")
            if self.clean_ipc and not _remove_ipc():
                why.append("left IPC objects that could not be removed")
        except Exception as exc:  # noqa: BLE001 - whatever the job did to block cleaning: start afresh
            why.append(f"cleanup failed: {exc!r}")
        if self.zygote.pid <= 0:
            why.append("the zygote is gone")
        return "; ".join(why)

    def _finish(self) -> str:
        """After an early answer: wait for the zygote's report of how the child ended, which
        must be the exit the harness reported; why this runner must retire otherwise."""
        if self.pending is None:
            return ""
        code, self.pending = self.pending, None
        status = None
        try:
            self.zygote.ctl.settimeout(FINISH_TIMEOUT_S)
            status = self.zygote.read_status()
        except (OSError, ValueError):
            pass
        finally:
            try:
                self.zygote.ctl.settimeout(None)
            except OSError:
                pass
        if status is None:  # a late report must never be taken for the next job's: retire
            return "the checker did not end after reporting its result"
        self.clean_ready = bool(status.get("ready"))
        st = status["status"]
        if not os.WIFEXITED(st) or os.WEXITSTATUS(st) != code:
            return f"the checker ended otherwise than it reported (status {st}, reported exit {code})"
        return ""

    @staticmethod
    def _trusted(job: dict) -> bool:
        cmd = job.get("command") or []
        if len(cmd) < 2 or cmd[0] not in PYTHONS:
            return False
        shipped = (job.get("files") or {}).get(cmd[1])
        return cmd[1] in PRECOMPILED or (isinstance(shipped, str) and shipped in SOURCES)

    def _kill_strays(self) -> bool:
        """Kill every process the job left; True when there were any.

        Kept: the zygote and the child it forked ahead for the next job, which is still root
        (every uid 0: it drops to the job uid only when it takes a job, and no job can regain
        uid 0). Everything else below the runner is the job's: its orphans (reparented to the
        runner, the subreaper) and children it made the zygote's with ``clone(CLONE_PARENT)``.

        In a container, when the zygote said it holds its child forked ahead and forks nothing
        more until asked, this runner, the zygote and that child are the only processes that
        should exist; the container's pids cgroup counts every task in it (threads, zombies not
        yet reaped, and children a job made anyone's with CLONE_PARENT included), so a count of 3
        proves that the job left nothing and the walk is skipped."""
        quiet, self.clean_ready = self.clean_ready, False
        if quiet and self.pids_current and self.zygote.pid > 0:
            if _read(self.pids_current) == b"3\n":
                self._reap()  # a zygote that died (a zombie counted above) is noticed here
                return False
        found = False
        for _ in range(200):
            tree = _tree(os.getpid())  # one walk: a child the zygote forks after it is in neither list
            keep = set()
            if self.zygote.pid > 0:
                keep = {self.zygote.pid, *(c for c in tree.get(self.zygote.pid, []) if _all_uids_root(c))}
            strays = [p for kids in tree.values() for p in kids if p not in keep]
            if not strays:
                break
            found = True
            for p in strays:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            self._reap()
            time.sleep(0.002)
        self._reap()
        return found

    def _reap(self) -> None:
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.zygote.pid:
                self.zygote.pid = -1

    def _clean_files(self) -> bool:
        ok = True
        for d in self.cleanup_dirs:
            try:
                names = os.listdir(d)
            except OSError:
                continue
            for name in names:
                path = os.path.join(d, name)
                if self.workdir.startswith(path + "/"):
                    continue  # the way down to the work directory itself
                try:
                    if stat.S_ISDIR(os.lstat(path).st_mode):  # a directory, never a link to one
                        if not _empty_flat_dir(path):
                            _shutil().rmtree(path, onerror=_force_remove)
                    else:
                        os.unlink(path)
                except OSError:
                    ok = False
                if os.path.lexists(path):
                    ok = False
        return ok


def _preload() -> None:
    """Run the module body of each trusted script that defines ``main()`` once, now, with
    ``sys.path`` limited to the interpreter's library (see PRELOADED). A script that fails to
    load here is run the usual way, per job."""
    saved = sys.path[:]
    sys.path[:] = list(STDLIB_PATH)
    try:
        for path, code in PRECOMPILED.items():
            ns = {"__name__": "selfgym_trusted", "__file__": path, "__builtins__": __builtins__}
            try:
                exec(code, ns)
            except Exception:  # noqa: BLE001 - not preloadable: it runs in full per job
                continue
            if callable(ns.get("main")):
                PRELOADED[path] = ns
    finally:
        sys.path[:] = saved


def _empty_flat_dir(path: str) -> bool:
    """Remove a directory that holds only files and links (a job's usual work directory) with
    one unlink per entry; False as soon as anything else is met (a directory, an entry that
    will not go), leaving what is left to ``rmtree``. Never follows a link."""
    try:
        for name in os.listdir(path):
            os.unlink(os.path.join(path, name))  # a directory raises (EISDIR): rmtree's job
        os.rmdir(path)
    except OSError:
        return False
    return True


def _read_only(path: str) -> bool:
    """True when ``path`` is on a read-only mount."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _own_pids_counter() -> str | None:
    """The ``pids.current`` of the pids cgroup this process is in (cgroup v1 or v2), or None
    when it cannot be shown to be ours: its ``cgroup.procs`` must list this process."""
    for d in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup"):
        procs = _read(os.path.join(d, "cgroup.procs"))
        if procs is not None and str(os.getpid()).encode() in procs.split() and \
                _read(os.path.join(d, "pids.current")) is not None:
            return os.path.join(d, "pids.current")
    return None


def _done_report(start: bytes) -> dict | None:
    """The status a trusted script reported on its start pipe after its start byte (see
    ``_report_done``), as the zygote would report it; None when there is none."""
    if start[:2] != b"SD":
        return None
    try:
        msg = json.loads(start[2:])
        code, cpu = msg["code"], float(msg["cpu_s"])
    except (ValueError, TypeError, KeyError):
        return None
    if type(code) is not int or not 0 <= code <= 255:
        return None
    return {"status": code << 8, "cpu_s": cpu}


def _read_ready(fd: int, limit: int) -> bytes:
    """Up to ``limit`` bytes already in the non-blocking pipe ``fd``."""
    data = b""
    try:
        while len(data) < limit:
            b = os.read(fd, limit - len(data))
            if not b:
                break
            data += b
    except BlockingIOError:
        pass
    return data


def _shutil():
    """``shutil``, imported by the runner only once the zygote exists: it loads the bz2, lzma and
    zlib libraries, and every mapping the zygote holds makes each fork of a job dearer."""
    import shutil

    return shutil


def _force_remove(func, path, _exc) -> None:
    """rmtree's error hook: make the entry and its parent ours to delete, then try again.

    Never follows a symbolic link (a job may plant one pointing anywhere)."""
    for p in (os.path.dirname(path), path):
        try:
            if not os.path.islink(p):
                os.chmod(p, 0o700)
        except OSError:
            pass
    if func in (os.unlink, os.remove, os.rmdir):
        func(path)
    elif os.path.isdir(path) and not os.path.islink(path):
        _shutil().rmtree(path, ignore_errors=True)


def _sysv_ipc_in_use() -> bool:
    """Whether this IPC namespace holds any SysV shared memory segment, message queue or
    semaphore set: three ``*_INFO`` calls, which report how many exist (no permission needed).
    True when any call fails, so that the caller looks for them the long way."""
    global _libc
    _libc = _libc or ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(256)  # larger than shm_info, msginfo and seminfo
    ints = ctypes.cast(buf, ctypes.POINTER(ctypes.c_int))
    for call, cmd, used in (("shmctl", SHM_INFO, 0), ("msgctl", MSG_INFO, 0), ("semctl", SEM_INFO, 7)):
        ctypes.memset(buf, 0, ctypes.sizeof(buf))
        # shm_info.used_ids, msginfo.msgpool and seminfo.semusz: how many segments, queues, sets
        rc = _libc.semctl(0, 0, cmd, buf) if call == "semctl" else getattr(_libc, call)(0, cmd, buf)
        if rc < 0 or ints[used] != 0:
            return True
    return False


def _remove_ipc() -> bool:
    """Remove every SysV IPC object and POSIX message queue in this (the container's) IPC
    namespace; every one was made by the job uid, which this runner shares as its real uid.
    True when none is left. The SysV tables are read only when ``_sysv_ipc_in_use`` says
    that something is there."""
    global _libc
    _libc = _libc or ctypes.CDLL(None, use_errno=True)
    ok = True
    for path, call in SYSVIPC if _sysv_ipc_in_use() else ():
        text = _read(path)
        if text is None:
            continue
        for row in text.splitlines()[1:]:
            fields = row.split()
            if len(fields) < 2:
                continue
            ident = int(fields[1])
            fn = getattr(_libc, call)
            rc = fn(ident, 0, IPC_RMID, None) if call == "semctl" else fn(ident, IPC_RMID, None)
            if rc != 0 and ctypes.get_errno() not in (22, 43):  # EINVAL/EIDRM: gone already
                ok = False
    try:
        names = os.listdir(MQUEUE_DIR)
    except OSError:
        names = []
    for name in names:
        try:
            os.unlink(os.path.join(MQUEUE_DIR, name))
        except FileNotFoundError:
            pass
        except OSError:
            ok = False
    return ok


def _killpg(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except OSError:
            pass


def _read(path: str) -> bytes | None:
    """A small file's bytes (a /proc or cgroup file), or None: open, read, close and nothing else
    (``open()`` would add a stat, a tty check and seeks)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        chunks = []
        while True:
            b = os.read(fd, 65536)
            if not b:
                return b"".join(chunks)
            chunks.append(b)
    except OSError:
        return None
    finally:
        os.close(fd)


def _tree(root: int) -> dict[int, list[int]]:
    """The children of every process below ``root`` (and of ``root``), walked through
    /proc/<pid>/task/<tid>/children (cheap: our own processes only), or by a scan of all of
    /proc where the kernel lacks that file."""
    if not _HAS_CHILDREN:
        return _tree_by_scan(root)
    tree, todo = {}, [root]
    while todo:
        p = todo.pop()
        kids = tree[p] = []
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tids:
            for k in (_read(f"/proc/{p}/task/{t}/children") or b"").split():
                kids.append(int(k))
                todo.append(int(k))
    return tree


def _descendants(root: int) -> list[int]:
    """Every process below ``root``."""
    return [c for kids in _tree(root).values() for c in kids]


def _all_uids_root(pid: int) -> bool:
    """True when the real, effective, saved and filesystem uids of ``pid`` are all 0 (read from
    /proc/<pid>/status: a job cannot fake it, unlike the owner of /proc/<pid>)."""
    for line in (_read(f"/proc/{pid}/status") or b"").splitlines():
        if line.startswith(b"Uid:"):
            return all(u == b"0" for u in line.split()[1:])
    return False


def _tree_by_scan(root: int) -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            line = _read(f"/proc/{name}/stat") or b""
            try:
                children.setdefault(int(line[line.rindex(b")") + 2:].split()[1]), []).append(int(name))
            except (ValueError, IndexError):
                pass
    tree, todo = {}, [root]
    while todo:
        p = todo.pop()
        tree[p] = children.get(p, [])
        todo.extend(tree[p])
    return tree


_HAS_CHILDREN = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


def _oom_kills() -> int:
    for line in (_read(OOM_CONTROL) or b"").splitlines():
        if line.startswith(b"oom_kill "):
            return int(line.split()[1])
    return 0


def main(argv: list[str] | None = None) -> int:
    # a fixed help width: argparse would import shutil to ask the terminal (see _shutil)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=lambda prog: argparse.HelpFormatter(prog, width=100))
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--user", type=int, default=None, help="drop each job to this uid (the runner starts as root)")
    ap.add_argument("--runner-uid", type=int, default=None,
                    help="in a container: after forking the zygote, run as this uid with a saved uid of 0")
    ap.add_argument("--namespaces", action="store_true",
                    help="local runner as root: private network, mount and IPC namespaces, and an IPC namespace per job")
    ap.add_argument("--nproc", action="store_true",
                    help="the job uid belongs to this runner alone: limit its processes with RLIMIT_NPROC")
    ap.add_argument("--connect", default=None, help="talk over this unix socket instead of stdin/stdout")
    ap.add_argument("--tmpfs-mb", type=int, default=64, help="size of the work directory's tmpfs (with --namespaces)")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    # As a container's init we receive from jobs only the signals we handle: handle none.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    OPTIONS["nproc"] = bool(args.nproc and args.user is not None)
    if os.getpid() != 1:
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _prctl(PR_SET_DUMPABLE, 0)
    global _libc
    _libc = _libc or ctypes.CDLL(None, use_errno=True)
    STDLIB_PATH[:] = [p for p in sys.path if p and os.path.abspath(p) != HERE and not p.endswith("-packages")]
    for name in ("harness.py",):  # read before any namespace hides the package directory
        try:
            with open(os.path.join(HERE, name)) as f:
                source = f.read()
            PRECOMPILED[os.path.join(HERE, name)] = compile(source, os.path.join(HERE, name), "exec")
            SOURCES[source] = os.path.join(HERE, name)
        except OSError:
            pass
    _preload()
    os.makedirs(args.workdir, exist_ok=True)
    ipc_ns = private_tmp = False
    if args.namespaces:
        os.chmod(args.workdir, 0o1777)
        try:
            _private_namespaces(args.workdir, args.tmpfs_mb)
            isolation, ipc_ns, private_tmp = "namespaces", True, True
        except OSError as exc:  # e.g. inside an unprivileged container: say so, go on weaker
            isolation = f"rlimits only (no namespaces: {exc})"
    else:
        isolation = "container" if os.getpid() == 1 else "rlimits only"
    runner = Runner(args.workdir, args.user, ipc_ns, private_tmp)
    if args.runner_uid is not None:  # the zygote stays uid 0; we keep 0 only as the saved uid
        os.setgroups([])
        os.setresgid(args.runner_uid, args.runner_uid, 0)
        os.setresuid(args.runner_uid, args.runner_uid, 0)
    fd_in, fd_out = 0, 1
    if args.connect:  # after the zygote exists, so no job ever inherits this socket
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(args.connect)
        fd_in = fd_out = conn.fileno()
    write_frame(fd_out, {"ready": True, "pid": os.getpid(), "python": sys.version.split()[0], "isolation": isolation,
                         "uids": list(os.getresuid())})
    runner.prefetch()
    while True:
        head = read_exact(fd_in, 4)
        raw = None if head is None else read_exact(fd_in, struct.unpack(">I", head)[0])
        if raw is None:
            return 0
        try:
            job = json.loads(raw)
            if "workdir" not in job:  # the child reads the frame as sent, plus where to work
                job["_raw"] = raw[:-1] + b', "workdir": ' + json.dumps(runner.workdir).encode() + b"}"
            result = runner.run(job)
        except Exception as exc:  # noqa: BLE001 - a runner bug is an infrastructure failure, reported as such
            result = {"infra_error": f"runner failed: {exc!r}", "recycle": True}
        write_frame(fd_out, result)
        if result.get("recycle"):
            runner.clean()
            continue  # the host replaces this runner; it sends nothing more
        # Leave the CPU to the caller while it reads this answer: cleaning up (and the zygote's
        # fork for the job after next) would otherwise compete with it; a job that arrives
        # meanwhile ends the wait, and is read only once cleaning is done.
        select.select([fd_in], [], [], CLEAN_GRACE_S)
        why = runner.clean()
        if not why:
            runner.prefetch()
        if why:  # not fit for another job: say so (the host retries elsewhere, spending no try) and go
            write_frame(fd_out, {"retire": why})
            return 0


if __name__ == "__main__":
    sys.exit(main())
