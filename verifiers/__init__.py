"""Sandboxed verification: run untrusted code and turn what it did into rewards.

```python
from selfgym.verifiers import get_sandbox, default_sandbox, Limits, Result
sb = get_sandbox("docker")   # "docker" | "process" | "auto"
res = sb.run({"main.py": "print(1)"}, ["python3", "main.py"], Limits(timeout_s=2))

from selfgym.verifiers.checker import run_tests, run_io_cases
verdict = run_tests(code, tests, entry_point="solve")
```

Backends: ``docker`` (warm pool of locked-down containers; see ``docker_backend``) and
``process`` (local subprocesses with rlimits; weaker). ``auto`` prefers docker when the engine
and the image answer, else falls back to process with a logged warning. Asking for ``docker``
when it is unavailable raises ``SandboxError``: never a silent fallback. Importing this package
does not import the Docker SDK.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading

from selfgym.errors import ConfigError, SandboxError
from selfgym.verifiers.limits import OUTCOMES, Limits, Result
from selfgym.verifiers.pool import Sandbox

__all__ = ["BACKENDS", "OUTCOMES", "Limits", "Result", "Sandbox", "default_sandbox", "get_sandbox", "docker_available"]

BACKENDS = ("docker", "process", "auto", "remote")
ENV_VAR = "SELFGYM_SANDBOX"
POOL_SIZE_VAR = "SELFGYM_POOL_SIZE"
log = logging.getLogger("selfgym.sandbox")
_default: Sandbox | None = None
_default_lock = threading.Lock()


def docker_available() -> tuple[bool, str]:
    """(True, "") when the engine answers and the sandbox image exists, else (False, why)."""
    try:
        from selfgym.verifiers.image import image_exists
        from selfgym.verifiers.docker_backend import client

        c = client()
        if not image_exists(c):
            return False, "the sandbox image is missing (run: selfgym sandbox build)"
        return True, ""
    except SandboxError as exc:
        return False, str(exc)
    except ImportError as exc:
        return False, f"the docker package is not installed ({exc})"


def get_sandbox(backend: str = "auto", limits: Limits | None = None, **options) -> Sandbox:
    """A new sandbox of ``backend`` ("docker", "process" or "auto").

    ``options`` go to the backend: ``pool_size``, ``max_jobs`` (recycle a worker after this many
    jobs), ``retries`` (extra tries after an infrastructure failure); docker also takes ``image``.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"sandbox backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        ok, why = docker_available()
        if not ok:
            log.warning("docker sandbox unavailable (%s); falling back to the weaker 'process' sandbox", why)
            backend = "process"
        else:
            backend = "docker"
    if backend == "remote":  # a verifier service (verifiers/remote.py; url/token or $SELFGYM_VERIFIER_URL/_TOKEN)
        from selfgym.verifiers.remote import RemoteSandbox

        return RemoteSandbox(limits, **options)
    if backend == "process":
        from selfgym.verifiers.process import ProcessSandbox

        options.pop("image", None)
        return ProcessSandbox(limits, **options)
    from selfgym.verifiers.docker_backend import DockerSandbox

    return DockerSandbox(limits, **options)


def pool_size_setting() -> int | None:
    """``$SELFGYM_POOL_SIZE`` (warm workers of the shared sandbox) as an int, or None when unset."""
    raw = os.environ.get(POOL_SIZE_VAR, "").strip()
    if not raw:
        return None
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if size < 1:
        raise ConfigError(f"${POOL_SIZE_VAR} must be a whole number >= 1, got {raw!r}")
    return size


def default_sandbox() -> Sandbox:
    """The process-wide shared sandbox (backend from $SELFGYM_SANDBOX, default "auto"; warm
    workers from $SELFGYM_POOL_SIZE, default the CPU count, at least 2), closed at exit."""
    global _default
    with _default_lock:
        if _default is None:
            size = pool_size_setting()
            _default = get_sandbox(os.environ.get(ENV_VAR, "auto"), **({"pool_size": size} if size else {}))
            atexit.register(_close_default)
        return _default


def _after_fork_in_child() -> None:
    global _default_lock
    _default_lock = threading.Lock()  # another thread may have held it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _close_default() -> None:
    global _default
    if _default is not None:
        _default.close()
        _default = None
