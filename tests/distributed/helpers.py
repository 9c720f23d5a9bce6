"""Shared by the distributed tests: trajectories in comparable form, families, a local Ray cluster."""

from __future__ import annotations

import json
from typing import Any

#: env kwargs per id for the equivalence runs (the process sandbox keeps many processes light)
ENV_KWARGS: dict[str, dict[str, Any]] = {"selfgym/CodeTask-v0": {"sandbox": "process"}}
TIMING_KEYS = ("timings", "seconds", "started_at", "ended_at", "executor", "elapsed", "wall_s", "cpu_s")


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def comparable(episodes) -> list[str]:
    """Episodes as sorted JSON texts without timing fields (NaN kept as NaN)."""
    rows = sorted(episodes, key=lambda e: (e.metadata["job"], e.metadata["trial"]))
    return [json.dumps(_strip(e.to_dict()), sort_keys=True) for e in rows]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve_env(env_id: str, env_kwargs: dict[str, Any] | None = None, max_sessions: int = 3):
    """`selfgym serve-env ENV_ID` as its own process on a loopback port: (url, Popen). Caller kills it."""
    import subprocess
    import sys
    import time

    import httpx

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "selfgym.cli", "serve-env", env_id, "--port", str(port),
                             "--max-sessions", str(max_sessions), "--env-kwargs", json.dumps(env_kwargs or {})],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return url, proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > end:
            proc.kill()
            raise RuntimeError(f"selfgym serve-env {env_id} did not come up")
        time.sleep(0.3)
