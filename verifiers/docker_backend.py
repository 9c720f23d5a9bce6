"""The ``docker`` backend: a warm pool of locked-down containers, one trusted runner in each.

Each container is created once from ``selfgym-sandbox`` with:

- ``network_mode="none"``, a read-only root, a size-capped tmpfs at /work (the only writable
  place, emptied after every job) and a small /dev/shm;
- ``mem_limit`` with ``memswap_limit`` equal to it, ``nano_cpus``, ``pids_limit``;
- ``cap_drop=["ALL"]``, ``no-new-privileges``, the non-root user ``sandbox`` (uid 1000);
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
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading

from selfgym.errors import SandboxError
from selfgym.verifiers.image import IMAGE, SANDBOX_UID, image_exists
from selfgym.verifiers.limits import Limits, Result
from selfgym.verifiers.pool import Sandbox, Worker, WorkerLost

RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runner.py")
HARNESS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "harness.py")
HARNESS_IN_SANDBOX = "/opt/selfgym/harness.py"
LABEL = "org.selfgym.sandbox.owner"
POOL_LABEL = "org.selfgym.sandbox.pool"  # one value per DockerSandbox instance
MEMORY_HEADROOM_MB = 64   # the runner and its zygote
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
        except Exception as exc:  # noqa: BLE001 - any failure here means: no engine
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

    def __init__(self, name: str, api, image: str, limits: Limits, owner: str, pool_id: str = ""):
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
            listener.settimeout(60)
            host_config = api.create_host_config(
                network_mode="none", read_only=True,
                tmpfs={"/work": f"rw,exec,size={limits.tmpfs_mb}m,uid={SANDBOX_UID},gid={SANDBOX_UID},mode=700"},
                mem_limit=mem, memswap_limit=mem, nano_cpus=int(limits.cpus * 1e9),
                pids_limit=limits.pids + PIDS_HEADROOM, cap_drop=["ALL"], security_opt=["no-new-privileges"],
                ulimits=[{"Name": "nofile", "Soft": limits.nofile, "Hard": limits.nofile},
                         {"Name": "fsize", "Soft": limits.file_size_mb << 20, "Hard": limits.file_size_mb << 20},
                         {"Name": "core", "Soft": 0, "Hard": 0}],
                binds={RUNNER: {"bind": "/opt/selfgym/runner.py", "mode": "ro"},
                       HARNESS: {"bind": HARNESS_IN_SANDBOX, "mode": "ro"},
                       self._dir: {"bind": "/run/selfgym", "mode": "ro"}},
                shm_size=8 << 20, ipc_mode="private")
            self.id = api.create_container(
                image, command=["python3", "-I", "-S", "/opt/selfgym/runner.py", "--workdir", "/work",
                                "--connect", "/run/selfgym/runner.sock"],
                user=f"{SANDBOX_UID}:{SANDBOX_UID}", network_disabled=True,
                working_dir="/work", environment={"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"},
                labels={LABEL: owner, POOL_LABEL: pool_id}, host_config=host_config)["Id"]
            api.start(self.id)
            self._sock, _ = listener.accept()
            self.wait_ready(60.0)
        except Exception as exc:
            tail = self._logs()
            self.close()
            raise SandboxError(f"cannot start a sandbox container from {image}: {exc}; {tail}") from exc
        finally:
            listener.close()
            try:
                os.unlink(path)
            except OSError:
                pass

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
            return self._sock.recv(1 << 20)
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
            return True
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

    def close(self) -> None:
        try:
            if self._sock is not None:
                self._sock.close()
        except OSError:
            pass
        if self.id is not None:
            try:
                self.api.remove_container(self.id, force=True)
            except Exception:  # noqa: BLE001 - already gone, or the daemon is down
                pass
        shutil.rmtree(self._dir, ignore_errors=True)


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
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.pool_id = f"{self.owner}:{id(self):x}"
        self._n = 0
        c = client()
        if not image_exists(c, image):
            raise SandboxError(f"the sandbox image {image} is missing; build it with: selfgym sandbox build")
        self.api = c.api
        remove_stale_containers(c)
        super().__init__(limits, pool_size or max(2, os.cpu_count() or 2), max_jobs, retries)

    def _start_worker(self) -> Worker:
        self._n += 1
        try:
            api = client().api
        except SandboxError:
            raise
        return DockerWorker(f"docker-{os.getpid()}-{self._n}", api, self.image, self.limits, self.owner, self.pool_id)

    def _job_limits(self, limits: Limits) -> Limits:
        c = self.limits
        return limits.replace(memory_mb=min(limits.memory_mb, c.memory_mb), pids=min(limits.pids, c.pids),
                              nofile=min(limits.nofile, c.nofile), file_size_mb=min(limits.file_size_mb, c.file_size_mb))

    def status(self) -> dict:
        return dict(super().status(), image=self.image)


def remove_stale_containers(c) -> int:
    """Remove sandbox containers left by selfgym processes on this host that no longer run."""
    host = socket.gethostname()
    removed = 0
    try:
        found = c.api.containers(all=True, filters={"label": LABEL})
    except Exception:  # noqa: BLE001
        return 0
    for info in found:
        owner = (info.get("Labels") or {}).get(LABEL, "")
        h, _, pid = owner.rpartition(":")
        if h != host or not pid.isdigit() or _alive(int(pid)):
            continue
        try:
            c.api.remove_container(info["Id"], force=True)
            removed += 1
        except Exception:  # noqa: BLE001
            pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
