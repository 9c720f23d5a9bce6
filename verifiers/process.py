"""The ``process`` backend: runners as local subprocesses, for machines without Docker.

Weaker than docker, and it says so once in the log. What it does: rlimits per job (address
space, CPU, file size, open files, processes), a fresh scratch directory per job, a clean
environment, the wall-clock timeout and output cap, and killing whatever a job leaves running.
When selfgym runs as root each runner also makes, once at start, an empty network namespace and
a private mount namespace (fresh size-capped tmpfs on the work directory, /tmp, /var/tmp and
/dev/shm, emptied after every job), and every job is dropped to ``nobody`` (uid 65534), so a job cannot reach the network, fill
the disk, leave files behind or signal its runner. What it does not do: hide the host's
world-readable files, limit memory and CPU for the job's processes together (rlimits are per
process), or keep concurrent jobs (all ``nobody``) from signalling each other; when not root,
none of the namespace protections apply. See docs/SECURITY.md.
"""

from __future__ import annotations

import logging
import os
import selectors
import subprocess
import sys
import tempfile
import threading

from selfgym.verifiers.limits import Limits
from selfgym.verifiers.pool import Sandbox, Worker

log = logging.getLogger("selfgym.sandbox")
RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runner.py")
NOBODY = 65534
_warned = threading.Event()
_ns_warned = threading.Event()


class ProcessWorker(Worker):
    def __init__(self, name: str, python: str, tmpfs_mb: int = 64):
        super().__init__(name)
        self.dir = tempfile.mkdtemp(prefix="selfgym-sandbox-")
        os.chmod(self.dir, 0o711)  # jobs run as nobody and must reach their work dir
        user = ["--user", str(NOBODY)] if os.geteuid() == 0 else []
        user += ["--tmpfs-mb", str(tmpfs_mb)] if user else []
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
        return os.read(self.proc.stdout.fileno(), 1 << 20)

    def _recv_some_retry(self, timeout: float) -> bytes:
        from selfgym.verifiers.pool import WorkerLost

        raise WorkerLost(f"{self.name}: no answer in {timeout:.1f}s")

    def alive(self) -> bool:
        return self.proc.poll() is None

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
        shutil.rmtree(self.dir, ignore_errors=True)


def _default_python() -> str:
    """The interpreter for local runners: the system one when jobs drop to ``nobody`` (ours may
    live under a private home directory that ``nobody`` cannot read)."""
    if os.geteuid() == 0 and os.access("/usr/bin/python3", os.X_OK):
        return "/usr/bin/python3"
    return sys.executable


class ProcessSandbox(Sandbox):
    """Local subprocess runners with rlimits and scratch directories (see the module doc)."""

    name = "process"
    # None: the checker ships harness.py with each job. A path into this package would break
    # where the package lives under /tmp (each runner mounts a fresh tmpfs there) or in a folder
    # that jobs, dropped to ``nobody``, cannot read.
    harness_path = None

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
