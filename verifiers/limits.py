"""What a sandbox job may use (``Limits``) and what it did (``Result``).

Both are plain dataclasses that every backend shares, so a caller can swap ``docker`` for
``process`` without touching anything else.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from selfgym.errors import ConfigError

#: Every value ``Result.outcome`` can take.
OUTCOMES = ("ok", "timeout", "memory", "output_limit", "killed")


@dataclass(frozen=True)
class Limits:
    """Resource limits for one job.

    Attributes:
        timeout_s: wall-clock seconds before the job is killed (outcome ``"timeout"``); CPU time
            is capped a little above it as a backstop.
        memory_mb: address space per process (RLIMIT_AS) and, under docker, the container's
            memory with swap equal to it (outcome ``"memory"``).
        cpus: CPU share of a container (docker only).
        pids: processes and threads at once: under docker the container's own pids cgroup (set
            when it starts, from the sandbox's limits); locally, as root, RLIMIT_NPROC on a uid
            that belongs to one runner. Never a count shared with other containers or runners.
        output_bytes: stdout and stderr together; more kills the job (``"output_limit"``).
        file_size_mb: largest file the job may write (RLIMIT_FSIZE).
        nofile: open file descriptors per process (RLIMIT_NOFILE).
        tmpfs_mb: size of the writable work directory (docker only; the root is read-only).
    """

    timeout_s: float = 10.0
    memory_mb: int = 256
    cpus: float = 1.0
    pids: int = 64
    output_bytes: int = 1_000_000
    file_size_mb: int = 16
    nofile: int = 256
    tmpfs_mb: int = 64

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"Limits.{f.name} must be a positive number, got {value!r}")
        if self.memory_mb < 32:
            raise ConfigError(f"Limits.memory_mb must be at least 32 (Python needs it to start), got {self.memory_mb}")
        if self.nofile < 16:
            raise ConfigError(f"Limits.nofile must be at least 16, got {self.nofile}")

    def replace(self, **changes: Any) -> "Limits":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Result:
    """What one job did.

    Attributes:
        exit_code: the command's exit status; negative for a signal (``-9`` for SIGKILL).
        stdout, stderr: decoded output (invalid UTF-8 replaced), each capped at
            ``Limits.output_bytes``.
        wall_s: wall-clock seconds from start to exit, measured next to the job.
        cpu_s: user plus system CPU seconds of the job's main process.
        outcome: ``"ok"`` (it ran to its own exit, whatever the status), ``"timeout"``,
            ``"memory"``, ``"output_limit"`` or ``"killed"`` (died by a signal nobody on our
            side sent, or killed the machinery around it).
        truncated: True when output was cut at the cap.
        backend: which sandbox ran it.
    """

    exit_code: int
    stdout: str
    stderr: str
    wall_s: float
    cpu_s: float
    outcome: str = "ok"
    truncated: bool = False
    backend: str = ""

    @property
    def ok(self) -> bool:
        """True when the job ran to its own exit with status 0."""
        return self.outcome == "ok" and self.exit_code == 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
