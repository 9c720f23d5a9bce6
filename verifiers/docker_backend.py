"""The ``docker`` backend: a warm pool of locked-down containers, one trusted runner in each.

Each container is created once from ``selfgym-sandbox`` with:

- ``network_mode="none"``, a read-only root, a size-capped tmpfs at /work (the only writable
  place, emptied after every job) and a small /dev/shm;
- ``mem_limit`` with ``memswap_limit`` equal to it, ``nano_cpus``, ``pids_limit`` (the
  container's own pids cgroup: the only process limit, so containers never share a count);
- a private IPC namespace, emptied of every IPC object after each job;
- ``cap_drop=["ALL"]`` but CAP_SETUID/CAP_SETGID, ``no-new-privileges``; the runner starts as
  root with only those two capabilities, forks its zygote (which stays uid 0 and forks each
  job's child), then runs as uid 1000 with a saved uid of 0; every job drops to the user
  ``sandbox`` (uid 1000) and loses all capabilities, so no job can signal or ``prlimit`` the
  machinery that serves the next job;
- ``nofile`` and ``fsize`` ulimits;
- host mounts, all read-only: ``runner.py`` and ``harness.py`` from this package, and the
  directory of the runner's socket; nothing else.

Its command is the runner (PID 1), which connects once to a unix socket the host listens on
(in a directory of ours mounted read-only; the host unlinks it once connected). A job is a
frame on that connection, kernel to kernel, not through the daemon; the runner forks a fresh child for it (no ``docker exec`` or ``docker run``
per job). The pool replaces a container after any limit violation, after a job that left
processes or files behind, after ``max_jobs`` jobs, and whenever one dies. A container killed
from outside, or a daemon that stops answering, is an infrastructure failure: the job is retried
on a fresh container and, failing that, ``SandboxError`` is raised.

Leaks: every container carries its owner (host, pid and the pid's start time), its pool and its
worker name as labels. ``remove_stale_containers`` (run when a docker sandbox starts, and by
``selfgym sandbox gc``) removes those whose owner process is gone; ``close()`` retries removal
for a while in any state, and a sandbox's ``close`` also removes by pool label whatever
container of its pool it never learnt the id of (a create cut short by an engine restart).
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import threading
import time

from selfgym.errors import SandboxError
from selfgym.verifiers.image import IMAGE, SANDBOX_UID, image_exists
from selfgym.verifiers.limits import Limits, Result
from selfgym.verifiers.pool import Sandbox, Worker, WorkerLost

RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runner.py")
HARNESS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "harness.py")
HARNESS_IN_SANDBOX = "/opt/selfgym/harness.py"
LABEL = "org.selfgym.sandbox.owner"      # "<host>:<pid>" of the process that owns the container
START_LABEL = "org.selfgym.sandbox.owner-start"  # that pid's start time (so a reused pid is not taken for it)
POOL_LABEL = "org.selfgym.sandbox.pool"  # one value per DockerSandbox instance
WORKER_LABEL = "org.selfgym.sandbox.worker"  # one value per container
JOB_UID = SANDBOX_UID
REMOVE_TRIES_S = 30.0
log = logging.getLogger("selfgym.sandbox")
_pending_lock = threading.Lock()
_pending: set[str] = set()  # ids whose removal failed; retried by the next reaper pass
MEMORY_HEADROOM_MB = 64   # the runner and its zygote
#: Bytes asked for per read of a result (recv allocates what it is asked for: 1 MiB cost ~30 us a read).
RECV_BYTES = 1 << 16
PIDS_HEADROOM = 8
_client = None
_client_lock = threading.Lock()


def client(timeout: int = 60):
    """A Docker client that answered a ping, or SandboxError saying how to start the engine."""
    global _client
    with _client_lock:
        try:
            import docker
        except ImportError as exc:
            raise SandboxError("the docker Python package is not installed (pip install docker)") from exc
        try:
            c = _client or docker.from_env(timeout=timeout)
            c.ping()
        except Exception as exc:
            _client = None
            raise SandboxError(f"the Docker engine does not answer ({str(exc)[:200]}); start it "
                               "(scripts/setup.sh does: dockerd --bridge=none --iptables=false) "
                               "or use the 'process' sandbox") from exc
        _client = c
        return c


class DockerWorker(Worker):
    """One container whose PID 1 is the runner, spoken to over a unix socket.

    The host listens on a socket in a fresh directory of its own, mounted read-only at
    /run/selfgym; the runner connects once at start, the host accepts that one connection and
    then closes and unlinks the listener, so no job can connect. Frames then go kernel to kernel,
    not through the Docker daemon.
    """

    def __init__(self, name: str, api, image: str, limits: Limits, owner: str, pool_id: str = "",
                 labels: dict | None = None):
        super().__init__(name)
        self.api = api
        self.id = None
        self._sock = None
        self._dir = tempfile.mkdtemp(prefix="selfgym-sock-")
        os.chmod(self._dir, 0o755)
        path = os.path.join(self._dir, "runner.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        mem = f"{limits.memory_mb + MEMORY_HEADROOM_MB}m"
        try:
            listener.bind(path)
            os.chmod(path, 0o666)
            listener.listen(1)
            host_config = api.create_host_config(
                network_mode="none", read_only=True,
                tmpfs={"/work": f"rw,exec,size={limits.tmpfs_mb}m,nr_inodes={max(1024, limits.tmpfs_mb * 256)},"
                                f"uid={SANDBOX_UID},gid={SANDBOX_UID},mode=700"},
                mem_limit=mem, memswap_limit=mem, nano_cpus=int(limits.cpus * 1e9),
                pids_limit=limits.pids + PIDS_HEADROOM, cap_drop=["ALL"], cap_add=["SETUID", "SETGID"],
                security_opt=["no-new-privileges"],
                ulimits=[{"Name": "nofile", "Soft": limits.nofile, "Hard": limits.nofile},
                         {"Name": "fsize", "Soft": limits.file_size_mb << 20, "Hard": limits.file_size_mb << 20},
                         {"Name": "core", "Soft": 0, "Hard": 0}],
                binds={RUNNER: {"bind": "/opt/selfgym/runner.py", "mode": "ro"},
                       HARNESS: {"bind": HARNESS_IN_SANDBOX, "mode": "ro"},
                       self._dir: {"bind": "/run/selfgym", "mode": "ro"}},
                shm_size=8 << 20, ipc_mode="private")
            self.id = api.create_container(
                image, command=["python3", "-I", "-S", "/opt/selfgym/runner.py", "--workdir", "/work",
                                "--connect", "/run/selfgym/runner.sock", "--user", str(JOB_UID),
                                "--runner-uid", str(JOB_UID)],
                user="0:0", network_disabled=True,
                working_dir="/", environment={"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"},
                labels={LABEL: owner, POOL_LABEL: pool_id, WORKER_LABEL: name, **(labels or {})},
                host_config=host_config)["Id"]
            api.start(self.id)
            self._sock = self._accept(listener, 60.0)
            self.wait_ready(60.0)
        except Exception as exc:
            tail = self._logs()
            self.close(tries_s=2.0)  # the engine may be down: the pool's close or the reaper finish it
            raise SandboxError(f"cannot start a sandbox container from {image}: {exc}; {tail}") from exc
        finally:
            listener.close()
            try:
                os.unlink(path)
            except OSError:
                pass

    def _accept(self, listener: socket.socket, timeout: float) -> socket.socket:
        """The runner's connection; fails fast when the container stops before connecting."""
        end = time.monotonic() + timeout
        listener.settimeout(0.5)
        while True:
            try:
                conn, _ = listener.accept()
                conn.settimeout(None)
                return conn
            except socket.timeout:
                if time.monotonic() > end:
                    raise TimeoutError(f"the runner did not connect within {timeout:.0f}s") from None
                if not self.api.inspect_container(self.id)["State"].get("Running"):
                    raise RuntimeError("the container stopped before its runner connected") from None

    def _logs(self) -> str:
        try:
            return self.api.logs(self.id, tail=5).decode(errors="replace")[-300:] if self.id else ""
        except Exception:  # noqa: BLE001
            return ""

    def _send(self, data: bytes) -> None:
        self._sock.sendall(data)

    def _recv_some(self, timeout: float) -> bytes:
        self._sock.settimeout(max(0.001, timeout))
        try:
            return self._sock.recv(RECV_BYTES)
        except socket.timeout as exc:
            raise WorkerLost(f"{self.name}: no answer in {timeout:.1f}s") from exc
        except OSError as exc:
            raise WorkerLost(f"{self.name}: stream error {exc}") from exc

    def alive(self) -> bool:
        """False when the attach stream has closed (the container is gone)."""
        import select

        try:
            readable, _, _ = select.select([self._sock], [], [], 0)
            if readable:
                self._sock.settimeout(0.0)
                chunk = self._sock.recv(1 << 16)
                if not chunk:
                    return False
                self._buf += chunk
            return not self.retired()
        except (OSError, ValueError):
            return False

    def explain_loss(self) -> Result | None:
        """A container the kernel OOM-killed died of the job; anything else is ours."""
        try:
            state = self.api.inspect_container(self.id)["State"]
        except Exception:  # noqa: BLE001 - gone entirely: not the job's doing as far as we know
            return None
        if state.get("OOMKilled"):
            return Result(exit_code=-9, stdout="", stderr="", wall_s=0.0, cpu_s=0.0, outcome="memory")
        return None

    def forget(self) -> None:
        """In a forked child: drop this process's copy of the connection, leave the container."""
        try:
            if self._sock is not None:
                self._sock.close()
        except OSError:
            pass

    def close(self, tries_s: float | None = None) -> None:
        try:
            if self._sock is not None:
                self._sock.close()
        except OSError:
            pass
        ids = [self.id] if self.id is not None else None
        if ids is None:  # the create may have gone through without our learning the id
            try:
                ids = [c["Id"] for c in self.api.containers(all=True, filters={"label": f"{WORKER_LABEL}={self.name}"})]
            except Exception:  # noqa: BLE001 - the engine is down: the pool's close or the reaper sweeps later
                ids = []
        for cid in ids:
            remove_container(self.api, cid, tries_s=tries_s)
        shutil.rmtree(self._dir, ignore_errors=True)


def _after_fork_in_child() -> None:
    global _client, _client_lock, _pending_lock
    _client = None  # the parent's HTTP connections are not ours to share
    _client_lock, _pending_lock = threading.Lock(), threading.Lock()  # either may have been held at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def remove_container(api, cid: str, tries_s: float | None = None) -> bool:
    """Remove a container in any state, retrying while the engine is away; True once gone.
    A container still there after ``tries_s`` (default ``REMOVE_TRIES_S``) is remembered and
    retried by the next reaper pass."""
    import docker

    end = time.monotonic() + (REMOVE_TRIES_S if tries_s is None else tries_s)
    delay = 0.1
    while True:
        try:
            api.remove_container(cid, force=True, v=True)
            break
        except docker.errors.NotFound:
            break
        except Exception as exc:  # noqa: BLE001 - engine restarting, removal in progress...
            if time.monotonic() > end:
                with _pending_lock:
                    _pending.add(cid)
                log.warning("could not remove sandbox container %s (%s); the reaper will retry", cid[:12], exc)
                return False
            time.sleep(delay)
            delay = min(2.0, delay * 2)
    with _pending_lock:
        _pending.discard(cid)
    return True


class DockerSandbox(Sandbox):
    """The default backend (see the module doc).

    Args:
        limits: default job limits; its memory, cpus, pids, tmpfs, nofile and file size also
            size the containers. A job's own Limits may tighten these, not widen them.
        pool_size: warm containers (default: CPU count, at least 2).
        max_jobs: jobs per container before it is replaced.
        retries: extra tries after an infrastructure failure.
        image: the image to run (default ``selfgym-sandbox:<version>``).
    """

    name = "docker"
    harness_path = HARNESS_IN_SANDBOX

    def __init__(self, limits: Limits | None = None, pool_size: int | None = None, max_jobs: int = 1000,
                 retries: int = 2, image: str = IMAGE):
        self.image = image
        self._n = 0
        self._set_owner()
        c = client()
        if not image_exists(c, image):
            raise SandboxError(f"the sandbox image {image} is missing; build it with: selfgym sandbox build")
        self._api, self._api_pid = c.api, os.getpid()
        try:
            self.image_id = c.api.inspect_image(image)["Id"]
        except Exception as exc:
            raise SandboxError(f"cannot inspect the sandbox image {image}: {exc}") from exc
        remove_stale_containers(c)
        super().__init__(limits, pool_size or max(2, os.cpu_count() or 2), max_jobs, retries)

    def _set_owner(self) -> None:
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.owner_start = str(_start_time(os.getpid()))
        self.pool_id = f"{self.owner}:{id(self):x}:{time.monotonic_ns() % 10**9}"

    @property
    def api(self):
        """The engine's API client of this process (a forked child makes its own)."""
        if self._api_pid != os.getpid():
            self._api, self._api_pid = client().api, os.getpid()
        return self._api

    def _after_fork_in_child(self) -> None:
        self._set_owner()
        super()._after_fork_in_child()

    def _start_worker(self) -> Worker:
        self._n += 1
        api = client().api
        return DockerWorker(f"docker-{os.getpid()}-{id(self):x}-{self._n}", api, self.image, self.limits, self.owner,
                            self.pool_id, labels={START_LABEL: self.owner_start})

    def close(self) -> None:
        super().close()
        try:  # whatever of this pool is left in any state (e.g. created while the engine restarted)
            left = self.api.containers(all=True, filters={"label": f"{POOL_LABEL}={self.pool_id}"})
        except Exception:  # noqa: BLE001 - engine down: the reaper removes them once we are gone
            return
        for c in left:
            remove_container(self.api, c["Id"], tries_s=5.0)

    def stamp(self, limits: Limits | None = None) -> dict:
        return dict(super().stamp(limits), image=self.image, image_id=self.image_id)

    def _job_limits(self, limits: Limits) -> Limits:
        c = self.limits
        # pids: the container's count is the only process limit here, whatever the job asked
        return limits.replace(memory_mb=min(limits.memory_mb, c.memory_mb), pids=c.pids,
                              nofile=min(limits.nofile, c.nofile), file_size_mb=min(limits.file_size_mb, c.file_size_mb))

    def status(self) -> dict:
        return dict(super().status(), image=self.image)


def remove_stale_containers(c=None, everything: bool = False) -> int:
    """Remove sandbox containers on this host whose owner process no longer runs (any state),
    and retry removals that failed earlier. ``everything``: every selfgym sandbox container.
    Returns how many were removed."""
    c = c or client()
    host = socket.gethostname()
    removed = 0
    with _pending_lock:
        pending = list(_pending)
    for cid in pending:
        removed += remove_container(c.api, cid, tries_s=1.0)
    try:
        found = c.api.containers(all=True, filters={"label": LABEL})
    except Exception:  # noqa: BLE001
        return removed
    for info in found:
        labels = info.get("Labels") or {}
        h, _, pid = labels.get(LABEL, "").rpartition(":")
        if not everything:
            if h != host or not pid.isdigit() or _owner_alive(int(pid), labels.get(START_LABEL)):
                continue
        removed += remove_container(c.api, info["Id"], tries_s=5.0)
    return removed


def _start_time(pid: int) -> int:
    """The start time of ``pid`` in clock ticks since boot (0 when unknown)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return int(stat[stat.rindex(b")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return 0


def _owner_alive(pid: int, start: str | None) -> bool:
    if not _alive(pid):
        return False
    if start and start.isdigit() and int(start) and _start_time(pid) not in (0, int(start)):
        return False  # the pid was reused by another process
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
