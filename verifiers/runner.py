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
``exec``-ed. After the job the runner kills whatever the job left running and empties the work
directory.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import json
import os
import selectors
import shutil
import signal
import socket
import struct
import sys
import time

# Warm modules for the zygote's children (imported once here, shared copy-on-write).
import bisect, collections, functools, heapq, io, itertools, math, re, resource, runpy, string, threading, traceback, typing  # noqa: E401,F401
import pkgutil  # noqa: F401  (runpy needs it)

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 2, 4, 16384, 1 << 18
PYTHONS = ("python", "python3", "/usr/bin/python3", "/usr/local/bin/python3")
OOM_CONTROL = "/sys/fs/cgroup/memory/memory.oom_control"
_libc = None
#: Trusted scripts that sit next to this file, compiled once at start (path -> code object).
PRECOMPILED: dict = {}


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

    def __init__(self, user: int | None):
        self.user = user
        self.ctl, theirs = socket.socketpair()
        self.pid = os.fork()
        if self.pid == 0:
            self.ctl.close()
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 0)
            os.dup2(devnull, 1)
            _zygote_loop(theirs, user)
            os._exit(0)
        theirs.close()

    def spawn(self):
        """Fork a child; returns (pid, job socket, stdout fd, stderr fd)."""
        self.ctl.sendall(b"F")
        msg, fds, _flags, _addr = socket.recv_fds(self.ctl, 64, 3)
        if not msg or len(fds) != 3:
            raise EOFError("zygote gone")
        return int(msg), socket.socket(fileno=fds[0]), fds[1], fds[2]

    def read_status(self) -> dict | None:
        """The status line the zygote writes when the child exits (None when it is gone)."""
        buf = b""
        while not buf.endswith(b"\n"):
            b = self.ctl.recv(4096)
            if not b:
                return None
            buf += b
        return json.loads(buf)


def _zygote_loop(ctl: socket.socket, user: int | None) -> None:
    """Keep one child forked ahead, hand it over on request, report how it ended; repeat."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        ours, theirs = socket.socketpair()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            ctl.close()
            ours.close()
            os.close(out_r)
            os.close(err_r)
            _child_main(theirs, out_w, err_w, user)
        theirs.close()
        os.close(out_w)
        os.close(err_w)
        if not ctl.recv(1):  # the runner is gone: so is the waiting child
            os.kill(pid, signal.SIGKILL)
            return
        socket.send_fds(ctl, [str(pid).encode()], [ours.fileno(), out_r, err_r])
        ours.close()
        os.close(out_r)
        os.close(err_r)
        _, status, ru = os.wait4(pid, 0)
        ctl.sendall(json.dumps({"status": status, "cpu_s": ru.ru_utime + ru.ru_stime}).encode() + b"\n")


# ------------------------------------------------------------------------------------- child
def _child_main(sock: socket.socket, out_w: int, err_w: int, user: int | None) -> None:
    """Set up and run one job; never returns."""
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
        if user is not None:  # local runner started as root: drop to `user`
            os.setgroups([])
            os.setgid(user)
            os.setuid(user)
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
            with open(rel, "wb") as f:
                f.write(data)
        stdin_fd = os.open(os.devnull, os.O_RDONLY)
        if job.get("stdin"):
            path = os.path.join(jobdir, ".stdin")
            with open(path, "wb") as f:
                f.write(base64.b64decode(job["stdin"]))
            stdin_fd = os.open(path, os.O_RDONLY)
            os.unlink(path)
        os.dup2(stdin_fd, 0)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": jobdir, "TMPDIR": jobdir,
               "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
        import resource as r

        mb = 1 << 20
        for res, value in ((r.RLIMIT_AS, lim["memory_mb"] * mb), (r.RLIMIT_CPU, int(lim["timeout_s"]) + 2),
                           (r.RLIMIT_FSIZE, lim["file_size_mb"] * mb), (r.RLIMIT_NOFILE, lim["nofile"]),
                           (r.RLIMIT_NPROC, lim["pids"]), (r.RLIMIT_CORE, 0)):
            r.setrlimit(res, (value, value))
        os.closerange(3, 65536)
        cmd = job["command"]
        if cmd[0] in PYTHONS and len(cmd) >= 2 and not cmd[1].startswith("-"):
            _run_python_here(cmd[1:], env, jobdir)
        os.execvpe(cmd[0], cmd, env)
    except BaseException as exc:  # setup failed: report on the job's stderr
        try:
            where = traceback.extract_tb(exc.__traceback__)[-1]
            os.write(2, f"selfgym runner: could not start the job: {exc!r} (runner line {where.lineno})\n".encode())
        finally:
            os._exit(127)


def _private_namespaces(workdir: str, tmpfs_mb: int) -> None:
    """Local runner as root, once at start: an empty network namespace, and a mount namespace in
    which the work directory, /tmp, /var/tmp and /dev/shm are fresh size-capped tmpfs."""
    if _libc.unshare(CLONE_NEWNET | CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare failed")
    if _libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "cannot make mounts private")
    small = b"size=8m,mode=1777"
    for path, opts in ((b"/tmp", small), (b"/var/tmp", small), (b"/dev/shm", small),
                       (workdir.encode(), f"size={tmpfs_mb}m,mode=1777".encode())):
        os.makedirs(path, exist_ok=True)
        if _libc.mount(b"tmpfs", path, b"tmpfs", MS_NOSUID | MS_NODEV, opts) != 0:
            raise OSError(ctypes.get_errno(), f"cannot mount a tmpfs on {path.decode()}")


def _run_python_here(argv: list[str], env: dict, jobdir: str) -> None:
    """Run ``python3 script args`` inside this fresh child, as the interpreter would."""
    os.environ.clear()
    os.environ.update(env)
    sys.argv = list(argv)
    sys.path[:] = [jobdir] + [p for p in sys.path if p and os.path.abspath(p) != os.path.dirname(os.path.abspath(__file__))]
    sys.stdin = sys.__stdin__ = open(0, "r", closefd=False)
    sys.stdout = sys.__stdout__ = open(1, "w", closefd=False, buffering=1)
    sys.stderr = sys.__stderr__ = open(2, "w", closefd=False, buffering=1)
    code = 0
    try:
        compiled = PRECOMPILED.get(os.path.abspath(argv[0]))
        if compiled is not None:  # our own harness: skip reading and compiling it per job
            exec(compiled, {"__name__": "__main__", "__file__": argv[0], "__builtins__": __builtins__})
        else:
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except BaseException:
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
    except BaseException:
        pass
    os._exit(code)


def _exit_code(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        print(code, file=sys.stderr)
    except BaseException:
        pass
    return 1


# ------------------------------------------------------------------------------------ runner
class Runner:
    def __init__(self, workdir: str, user: int | None):
        self.workdir = workdir
        self.user = user
        self.zygote = Zygote(user)
        private = os.getpid() == 1 or user is not None  # these places are ours alone
        self.cleanup_dirs = [workdir] + (["/dev/shm", "/tmp", "/var/tmp"] if private else [])

    def run(self, job: dict) -> dict:
        lim = job["limits"]
        cap = int(lim["output_bytes"])
        job["workdir"] = self.workdir
        oom_before = _oom_kills()
        t0 = time.monotonic()
        try:
            pid, sock, out_r, err_r = self.zygote.spawn()
        except (OSError, EOFError, ValueError):
            return {"infra_error": "the runner's zygote is gone", "recycle": True}
        data = json.dumps(job).encode()
        try:
            sock.sendall(struct.pack(">I", len(data)) + data)
        except OSError:
            pass
        sock.close()
        out, err = bytearray(), bytearray()
        bufs = {out_r: out, err_r: err}
        sel = selectors.DefaultSelector()
        sel.register(out_r, selectors.EVENT_READ)
        sel.register(err_r, selectors.EVENT_READ)
        sel.register(self.zygote.ctl, selectors.EVENT_READ)
        deadline = t0 + float(lim["timeout_s"])
        reason, status, truncated, recycle, wall = None, None, False, False, None
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
            for key, _ in sel.select(max(0.0, timeout)):
                fd = key.fileobj
                if fd is self.zygote.ctl:
                    sel.unregister(fd)
                    status = self.zygote.read_status()
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
        sel.close()
        os.close(out_r)
        os.close(err_r)
        why = []
        try:
            if self._kill_strays():
                why.append("left processes")
            if not self._clean_files():
                why.append("left files that could not be removed")
        except Exception as exc:  # noqa: BLE001 - whatever the job did to block cleaning: start afresh
            why.append(f"cleanup failed: {exc!r}")
        if self.zygote.pid <= 0:
            why.append("the zygote is gone")
        recycle = recycle or bool(why)
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
        if len(out) > cap or len(err) > cap:
            truncated = True
        return {"exit_code": code, "stdout": bytes(out[:cap]).decode("utf-8", "replace"),
                "stderr": bytes(err[:cap]).decode("utf-8", "replace"), "wall_s": wall,
                "cpu_s": status["cpu_s"], "outcome": reason, "truncated": truncated, "recycle": recycle,
                "recycle_why": "; ".join(why)}

    def _kill_strays(self) -> bool:
        """Kill every process the job left; True when there were any."""
        found = False
        for _ in range(200):
            below = _descendants(os.getpid())  # first: a child the zygote forks after this is not in it
            keep = {self.zygote.pid, *_descendants(self.zygote.pid)} if self.zygote.pid > 0 else set()
            strays = [p for p in below if p not in keep]
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
                    if os.path.isdir(path) and not os.path.islink(path):
                        shutil.rmtree(path, onerror=_force_remove)
                    else:
                        os.unlink(path)
                except OSError:
                    ok = False
                if os.path.lexists(path):
                    ok = False
        return ok


def _force_remove(func, path, _exc) -> None:
    """rmtree's error hook: make the entry and its parent ours to delete, then try again."""
    for p in (os.path.dirname(path), path):
        try:
            os.chmod(p, 0o700)
        except OSError:
            pass
    if func in (os.unlink, os.remove, os.rmdir):
        func(path)
    elif os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)


def _killpg(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except OSError:
            pass


def _descendants(root: int) -> list[int]:
    parent = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    stat = f.read()
                parent[int(name)] = int(stat[stat.rindex(b")") + 2:].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    children: dict[int, list[int]] = {}
    for p, pp in parent.items():
        children.setdefault(pp, []).append(p)
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _oom_kills() -> int:
    try:
        with open(OOM_CONTROL) as f:
            for line in f:
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--user", type=int, default=None, help="drop each job to this uid (local runner as root)")
    ap.add_argument("--connect", default=None, help="talk over this unix socket instead of stdin/stdout")
    ap.add_argument("--tmpfs-mb", type=int, default=64, help="size of the work directory's tmpfs (with --user)")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if os.getpid() != 1:
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _prctl(PR_SET_DUMPABLE, 0)
    global _libc
    _libc = _libc or ctypes.CDLL(None, use_errno=True)
    os.makedirs(args.workdir, exist_ok=True)
    if args.user is not None:
        os.chmod(args.workdir, 0o1777)
        try:
            _private_namespaces(args.workdir, args.tmpfs_mb)
            isolation = "namespaces"
        except OSError as exc:  # e.g. inside an unprivileged container: say so, go on weaker
            isolation = f"rlimits only (no namespaces: {exc})"
    else:
        isolation = "container" if os.getpid() == 1 else "rlimits only"
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ("harness.py",):
        try:
            with open(os.path.join(here, name)) as f:
                PRECOMPILED[os.path.join(here, name)] = compile(f.read(), os.path.join(here, name), "exec")
        except OSError:
            pass
    runner = Runner(args.workdir, args.user)
    fd_in, fd_out = 0, 1
    if args.connect:  # after the zygote exists, so no job ever inherits this socket
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(args.connect)
        fd_in = fd_out = conn.fileno()
    write_frame(fd_out, {"ready": True, "pid": os.getpid(), "python": sys.version.split()[0], "isolation": isolation})
    while True:
        job = read_frame(fd_in)
        if job is None:
            return 0
        try:
            result = runner.run(job)
        except Exception as exc:  # a runner bug is an infrastructure failure, reported as such
            result = {"infra_error": f"runner failed: {exc!r}", "recycle": True}
        write_frame(fd_out, result)


if __name__ == "__main__":
    sys.exit(main())
