"""The warm worker pool both backends share, and the ``Sandbox`` base class.

A *worker* is one trusted runner (``runner.py``): a container's PID 1 under docker, a local
subprocess under ``process``. The pool keeps up to ``size`` of them warm, hands one to each job,
and replaces a worker after ``max_jobs`` jobs, after any job that hit a limit or left something
behind, and whenever one dies. A worker that dies for reasons the job did not cause is an
infrastructure failure: the job is retried on a fresh worker, and after ``retries`` more tries
the sandbox raises ``SandboxError``.

Processes: every live sandbox is closed when its process ends, also in a multiprocessing child
(vector-env workers end through ``os._exit``, which skips ``atexit``: a multiprocessing
finaliser runs there instead, and a SIGTERM to such a child closes its sandboxes first). A
sandbox copied into a forked child leaves the parent's workers alone: the child starts its own.
"""

from __future__ import annotations

import atexit
import base64
import contextvars
import hashlib
import json
import logging
import os
import signal
import struct
import sys
import threading
import time
import weakref
from typing import Callable

from selfgym.errors import SandboxError
from selfgym.verifiers.limits import Limits, Result

log = logging.getLogger("selfgym.sandbox")


class WorkerLost(Exception):
    """The worker stopped answering or died during a job."""


class Worker:
    """One runner. Subclasses implement ``_send``, ``_recv_some``, ``close`` and ``explain_loss``."""

    def __init__(self, name: str):
        self.name = name
        self.jobs = 0
        self._buf = bytearray()

    # -- framing over a byte stream -----------------------------------------------------
    def _frame(self, deadline: float) -> dict:
        while True:
            if len(self._buf) >= 4:
                n = struct.unpack(">I", self._buf[:4])[0]
                if len(self._buf) >= 4 + n:
                    body = bytes(self._buf[4:4 + n])
                    del self._buf[:4 + n]
                    return json.loads(body)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerLost(f"{self.name}: no answer in time")
            chunk = self._recv_some(remaining)
            if not chunk:
                raise WorkerLost(f"{self.name}: stream closed")
            self._buf += chunk

    def call(self, payload: bytes, timeout: float) -> dict:
        """Send one framed job and wait for its result frame."""
        try:
            self._send(struct.pack(">I", len(payload)) + payload)
        except OSError as exc:
            raise WorkerLost(f"{self.name}: cannot send: {exc}") from exc
        self.jobs += 1
        return self._frame(time.monotonic() + timeout)

    def wait_ready(self, timeout: float) -> dict:
        msg = self._frame(time.monotonic() + timeout)
        if not msg.get("ready"):
            raise WorkerLost(f"{self.name}: unexpected first message {msg!r}")
        return msg

    def alive(self) -> bool:
        """A cheap check, made before a job is handed to an idle worker."""
        return not self.retired()

    def retired(self) -> bool:
        """True when the runner has said, unasked, that it cannot take another job."""
        if len(self._buf) >= 4:
            n = struct.unpack(">I", self._buf[:4])[0]
            if len(self._buf) >= 4 + n:
                try:
                    return "retire" in json.loads(bytes(self._buf[4:4 + n]))
                except ValueError:
                    return True
        return False

    def explain_loss(self) -> Result | None:
        """After a loss: a Result when the job itself caused it (e.g. the OOM killer), else None."""
        return None

    def _send(self, data: bytes) -> None:
        raise NotImplementedError

    def _recv_some(self, timeout: float) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def forget(self) -> None:
        """In a forked child: drop this process's copies of the worker's handles, never the worker."""


class WorkerPool:
    """Up to ``size`` warm workers made by ``start``; thread-safe."""

    def __init__(self, start: Callable[[], Worker], size: int, max_jobs: int):
        self._start = start
        self.size = size
        self.max_jobs = max_jobs
        self._idle: list[Worker] = []
        self._live = 0  # idle + busy + starting
        self._cond = threading.Condition()
        self._closed = False
        self.started = 0
        self.recycled = 0
        self.last_error: str | None = None

    def warm(self) -> None:
        """Start workers in the background until ``size`` are live or starting."""
        with self._cond:
            missing = self.size - self._live if not self._closed else 0
            self._live += max(0, missing)
        for _ in range(max(0, missing)):
            threading.Thread(target=self._start_one, daemon=True).start()

    def _start_one(self) -> None:
        try:
            w = self._start()
        except Exception as exc:  # noqa: BLE001 - recorded; the next acquire retries inline
            with self._cond:
                self._live -= 1
                self.last_error = str(exc)
                self._cond.notify_all()
            return
        with self._cond:
            self.started += 1
            if self._closed:
                self._live -= 1
                threading.Thread(target=w.close, daemon=True).start()
                return
            self._idle.append(w)
            self._cond.notify()

    def acquire(self, timeout: float = 120.0) -> Worker:
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                if self._closed:
                    raise SandboxError("the sandbox is closed")
                while self._idle:
                    # the longest idle first: a runner cleans up after answering, so the worker
                    # released last may still be busy with that; one idle longer is ready now
                    w = self._idle.pop(0)
                    if w.alive():
                        return w
                    self._live -= 1  # died while idle: replace it, do not spend a try on it
                    self.recycled += 1
                    threading.Thread(target=w.close, daemon=True).start()
                    threading.Thread(target=self.warm, daemon=True).start()
                if self._live < self.size:
                    self._live += 1
                    break
                if not self._cond.wait(max(0.0, end - time.monotonic())) and time.monotonic() > end:
                    raise SandboxError(f"no sandbox worker became free in {timeout:.0f}s "
                                       f"(pool size {self.size}; last error: {self.last_error})")
        try:
            w = self._start()
        except Exception as exc:
            with self._cond:
                self._live -= 1
                self.last_error = str(exc)
                self._cond.notify_all()
            raise SandboxError(f"cannot start a sandbox worker: {exc}") from exc
        with self._cond:
            self.started += 1
        return w

    def release(self, w: Worker, recycle: bool = False) -> None:
        if recycle or w.jobs >= self.max_jobs:
            self.discard(w)
            return
        with self._cond:
            if self._closed:
                self._live -= 1
                threading.Thread(target=w.close, daemon=True).start()
                return
            self._idle.append(w)
            self._cond.notify()

    def discard(self, w: Worker) -> None:
        """Throw a worker away (closed in the background) and start its replacement."""
        with self._cond:
            self._live -= 1
            self.recycled += 1
            self._cond.notify()
        threading.Thread(target=w.close, daemon=True).start()
        self.warm()

    def stats(self) -> dict:
        with self._cond:
            return {"size": self.size, "idle": len(self._idle), "live": self._live, "started": self.started,
                    "recycled": self.recycled, "max_jobs": self.max_jobs, "last_error": self.last_error}

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._live -= len(idle)
        threads = [threading.Thread(target=w.close, daemon=True) for w in idle]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)


class Sandbox:
    """Runs untrusted code; the contract every backend implements.

    ``run(files, command, limits=None, stdin=None) -> Result`` writes ``files`` (relative path to
    text or bytes) into an empty work directory, runs ``command`` there under ``limits`` and
    returns what happened. A job's misbehaviour is always a Result (see ``Result.outcome``);
    only our own failures raise ``SandboxError``, after ``retries`` further tries.

    Subclasses provide ``_start_worker()`` and set ``name``.
    """

    name = "base"
    #: Where the check harness sits inside this sandbox (precompiled by the runner); None: send it.
    harness_path: str | None = None

    def __init__(self, limits: Limits | None = None, pool_size: int = 2, max_jobs: int = 1000, retries: int = 2):
        self.limits = limits or Limits()
        self.retries = retries
        self.pool = WorkerPool(self._start_worker, size=pool_size, max_jobs=max_jobs)
        self._pid = os.getpid()
        self._limits_dicts: dict[Limits, dict] = {}
        _LIVE.add(self)
        _register_process_cleanup()

    def _after_fork_in_child(self) -> None:
        """This object was copied into a forked child: forget the parent's workers, start afresh.
        (Runs inside ``os.fork``: no I/O beyond closing this process's copies of handles.)"""
        old = self.pool
        idle = list(old._idle)  # no lock: another thread of the parent may have held it at the fork
        for w in idle:
            try:
                w.forget()
            except Exception:  # noqa: BLE001
                pass
        self.pool = WorkerPool(self._start_worker, size=old.size, max_jobs=old.max_jobs)
        self._pid = os.getpid()

    def stamp(self, limits: Limits | None = None) -> dict:
        """What produced a verdict in this sandbox (see ``selfgym.verifiers.stamp``)."""
        return {"backend": self.name, "limits": self._job_limits(limits or self.limits).to_dict(),
                "runner_sha256": _runner_hash()}

    def _start_worker(self) -> Worker:
        raise NotImplementedError

    def run(self, files: dict[str, str | bytes], command: list[str], limits: Limits | None = None,
            stdin: bytes | None = None) -> Result:
        limits = limits or self.limits
        if not command or not all(isinstance(c, str) for c in command):
            raise TypeError(f"command must be a non-empty list of strings, got {command!r}")
        if _cleanup_pid != os.getpid():
            _register_process_cleanup()
        box = _STAMPS.get()
        if box is not None:
            box.append(self.stamp(limits))
        job = {
            "files": {k: ({"b64": base64.b64encode(v).decode()} if isinstance(v, bytes) else v) for k, v in files.items()},
            "command": list(command),
            "stdin": base64.b64encode(stdin).decode() if stdin else None,
            "limits": self._limits_dict(limits),
        }
        payload = json.dumps(job).encode()
        errors: list[str] = []
        attempt, retired = -1, 0
        while attempt < self.retries:
            attempt += 1
            if attempt:
                time.sleep(min(2.0, 0.2 * 2 ** attempt))
            try:
                w = self.pool.acquire()
            except SandboxError as exc:
                errors.append(str(exc))
                continue
            try:
                res = w.call(payload, timeout=limits.timeout_s + 15.0)
                if "retire" in res and retired < 8:  # it retired before our job reached it: not a try
                    retired += 1
                    attempt -= 1
                    self.pool.discard(w)
                    continue
            except WorkerLost as exc:
                self.pool.discard(w)
                blamed = w.explain_loss()
                if blamed is not None:
                    blamed.backend = self.name
                    return blamed
                errors.append(str(exc))
                log.warning("sandbox worker lost (%s); retrying (%d/%d)", exc, attempt + 1, self.retries)
                continue
            if "infra_error" in res:
                self.pool.discard(w)
                errors.append(res["infra_error"])
                continue
            why = res.pop("recycle_why", "")
            if why:
                log.debug("replacing %s: the job %s", w.name, why)
            self.pool.release(w, recycle=res.pop("recycle", False))
            return Result(backend=self.name, **res)
        raise SandboxError(f"{self.name} sandbox failed {self.retries + 1} times: {'; '.join(errors[-3:])}")

    def _job_limits(self, limits: Limits) -> Limits:
        return limits

    def _limits_dict(self, limits: Limits) -> dict:
        """``self._job_limits(limits).to_dict()``, computed once per distinct Limits (frozen)."""
        cache = self._limits_dicts
        d = cache.get(limits)
        if d is None:
            if len(cache) >= 64:
                cache.clear()
            d = cache[limits] = self._job_limits(limits).to_dict()
        return d

    def warm(self) -> "Sandbox":
        """Start the pool's workers now rather than on first use."""
        self.pool.warm()
        return self

    def status(self) -> dict:
        return {"backend": self.name, "pool": self.pool.stats(), "limits": self.limits.to_dict()}

    def close(self) -> None:
        self.pool.close()
        _LIVE.discard(self)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ------------------------------------------------------------------- process life cycle
_LIVE: "weakref.WeakSet[Sandbox]" = weakref.WeakSet()
#: While set (see ``selfgym.verifiers.stamp.stamped``), each run appends its sandbox's stamp here.
_STAMPS: contextvars.ContextVar = contextvars.ContextVar("selfgym_sandbox_stamps", default=None)
_cleanup_pid: int | None = None
_runner_sha: str | None = None


def _runner_hash() -> str:
    """sha256 of the code that runs inside every sandbox (runner and harness), first 16 hex digits."""
    global _runner_sha
    if _runner_sha is None:
        here = os.path.dirname(os.path.abspath(__file__))
        h = hashlib.sha256()
        for name in ("runner.py", "harness.py"):
            with open(os.path.join(here, name), "rb") as f:
                h.update(f.read())
        _runner_sha = h.hexdigest()[:16]
    return _runner_sha


def close_all_sandboxes() -> None:
    """Close every sandbox this process opened (runs at exit, also in multiprocessing children)."""
    for sb in list(_LIVE):
        if sb._pid == os.getpid():
            try:
                sb.close()
            except Exception:  # noqa: BLE001 - exiting: the reaper removes what is left
                pass


def _on_sigterm(signum, frame) -> None:
    close_all_sandboxes()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _register_process_cleanup() -> None:
    """Once per process: close this process's sandboxes however it ends (see the module doc)."""
    global _cleanup_pid
    if _cleanup_pid == os.getpid():
        return
    _cleanup_pid = os.getpid()
    atexit.register(close_all_sandboxes)
    mp = sys.modules.get("multiprocessing")
    if mp is not None and mp.parent_process() is not None:  # a multiprocessing child: no atexit there
        from multiprocessing import util

        util.Finalize(None, close_all_sandboxes, exitpriority=100)
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            try:
                signal.signal(signal.SIGTERM, _on_sigterm)
            except ValueError:
                pass


def _after_fork_in_child() -> None:
    global _cleanup_pid
    for sb in list(_LIVE):
        if sb._pid != os.getpid():
            sb._after_fork_in_child()
    _cleanup_pid = None  # registered again on first use here, once the child knows what it is


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
