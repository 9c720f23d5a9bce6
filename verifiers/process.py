"""The ``process`` backend: runners as local subprocesses, for machines without Docker.

Weaker than docker, and it says so once in the log. What it does: rlimits per job (address
space, CPU, file size, open files, processes), a fresh scratch directory per job, a clean
environment, the wall-clock timeout and output cap, and killing whatever a job leaves running.
When selfgym runs as root each runner also makes, once at start, an empty network namespace and
a private mount namespace (fresh size-capped tmpfs on the work directory, /tmp, /var/tmp and
/dev/shm, emptied after every job) and a private IPC namespace, every job gets a fresh IPC
namespace of its own, and every job is dropped to a uid that belongs to that runner alone
(taken from a range above 1.8e9 and held with a lock file under /run/selfgym-uids), so a job
cannot reach the network, fill the disk, leave files or IPC objects behind, or signal its
runner or jobs of other runners; its process limit (RLIMIT_NPROC) counts that uid only, so it
never couples runners. What it does not do: hide the host's world-readable files, or limit
memory and CPU for the job's processes together (rlimits are per process); when not root, none
of the namespace or uid protections apply and no process limit is set (RLIMIT_NPROC would
count every process of the user). See docs/SECURITY.md.
"""

from __future__ import annotations

import fcntl
import logging
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zlib

from selfgym.verifiers.limits import Limits
from selfgym.verifiers.pool import Sandbox, Worker

log = logging.getLogger("selfgym.sandbox")
RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runner.py")
HARNESS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "harness.py")
UID_BASE = 1_879_048_192  # 0x70000000: far above any uid a distribution hands out
UID_SLOTS = 65536
UID_LOCKS = "/run/selfgym-uids"
_warned = threading.Event()
_ns_warned = threading.Event()


def _processes_of(uid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/status", "rb") as f:
                    for line in f:
                        if line.startswith(b"Uid:"):
                            if uid in map(int, line.split()[1:]):
                                found.append(int(name))
                            break
            except (OSError, ValueError):
                pass
    return found


def kill_uid(uid: int) -> None:
    """SIGKILL every process running as ``uid`` (a job uid of ours), until none is left."""
    for _ in range(50):
        pids = _processes_of(uid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)


class JobUid:
    """A uid no other runner on this host uses while we hold it (a lock file per uid)."""

    def __init__(self):
        os.makedirs(UID_LOCKS, mode=0o700, exist_ok=True)
        start = zlib.crc32(f"{os.getpid()}:{time.monotonic_ns()}".encode()) % UID_SLOTS
        for k in range(UID_SLOTS):
            slot = (start + k) % UID_SLOTS
            fd = os.open(os.path.join(UID_LOCKS, str(slot)), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.fd, self.uid = fd, UID_BASE + slot
            kill_uid(self.uid)  # whatever a dead previous holder left running
            return
        raise OSError("no free job uid")

    def release(self) -> None:
        if self.fd is not None:
            kill_uid(self.uid)
            os.close(self.fd)
            self.fd = None


class ProcessWorker(Worker):
    def __init__(self, name: str, python: str, tmpfs_mb: int = 64):
        super().__init__(name)
        self.dir = tempfile.mkdtemp(prefix="selfgym-sandbox-")
        os.chmod(self.dir, 0o711)  # jobs run as their own uid and must reach their work dir
        self.uid = JobUid() if os.geteuid() == 0 else None
        user = ["--user", str(self.uid.uid), "--nproc", "--namespaces", "--tmpfs-mb", str(tmpfs_mb)] if self.uid else []
        self.proc = subprocess.Popen([python, "-I", "-S", RUNNER, "--workdir", os.path.join(self.dir, "w"), *user],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     start_new_session=True, close_fds=True)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            ready = self.wait_ready(30.0)
            if os.geteuid() == 0 and ready.get("isolation") != "namespaces" and not _ns_warned.is_set():
                _ns_warned.set()
                log.warning("process sandbox runs as root but could not isolate jobs: %s", ready.get("isolation"))
        except Exception:
            self.close()
            raise

    def _send(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def _recv_some(self, timeout: float) -> bytes:
        if not self._sel.select(timeout):
            return b"" if self.proc.poll() is not None else self._recv_some_retry(timeout)
        return os.read(self.proc.stdout.fileno(), 1 << 16)  # os.read allocates what it is asked for

    def _recv_some_retry(self, timeout: float) -> bytes:
        from selfgym.verifiers.pool import WorkerLost

        raise WorkerLost(f"{self.name}: no answer in {timeout:.1f}s")

    def alive(self) -> bool:
        if self.proc.poll() is not None:
            return False
        try:
            if self._sel.select(0):
                chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
                if not chunk:
                    return False
                self._buf += chunk
        except (OSError, ValueError):
            return False
        return not self.retired()

    def forget(self) -> None:
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except Exception:  # noqa: BLE001
                pass
        self.proc.returncode = 0  # never wait for or kill the parent's runner from here
        if self.uid is not None:
            os.close(self.uid.fd)  # our copy of the lock: the parent still holds the uid
            self.uid.fd = None

    def close(self) -> None:
        import shutil

        try:
            self.proc.kill()
            self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except Exception:  # noqa: BLE001
                pass
        self._sel.close()
        if self.uid is not None:
            self.uid.release()
        shutil.rmtree(self.dir, ignore_errors=True)


def _default_python() -> str:
    """The interpreter for local runners: the system one when jobs drop to a uid of their own (ours may
    live under a private home directory that such a uid cannot read)."""
    if os.geteuid() == 0 and os.access("/usr/bin/python3", os.X_OK):
        return "/usr/bin/python3"
    return sys.executable


class ProcessSandbox(Sandbox):
    """Local subprocess runners with rlimits and scratch directories (see the module doc)."""

    name = "process"
    # The runner compiles the harness when it starts (before any namespace could hide this
    # folder) and runs that code object for this path; nothing is read from disk per job.
    harness_path = HARNESS

    def __init__(self, limits: Limits | None = None, pool_size: int | None = None, max_jobs: int = 1000,
                 retries: int = 2, python: str | None = None):
        self.python = python or _default_python()
        self._n = 0
        if not _warned.is_set():
            _warned.set()
            log.warning("using the 'process' sandbox: jobs run as local processes with rlimits only; "
                        "they can read host files%s. Use the docker backend for untrusted code.",
                        "" if os.geteuid() == 0 else ", write to the host's disk, reach the network and signal their runner")
        super().__init__(limits, pool_size or max(2, os.cpu_count() or 2), max_jobs, retries)

    def _start_worker(self) -> Worker:
        self._n += 1
        return ProcessWorker(f"process-runner-{self._n}", self.python, self.limits.tmpfs_mb)

    def stamp(self, limits: Limits | None = None) -> dict:
        import platform

        return dict(super().stamp(limits), image=None, image_id=f"host:{platform.node()}:python-{self.python}")
