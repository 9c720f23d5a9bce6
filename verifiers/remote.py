"""``RemoteSandbox``: the Sandbox contract served by a verifier service over HTTP.

    from selfgym.verifiers import get_sandbox
    sb = get_sandbox("remote", url="http://verifier:8700", token="...")
    # or: SELFGYM_SANDBOX=remote SELFGYM_VERIFIER_URL=... SELFGYM_VERIFIER_TOKEN=...

Any env (``sandbox=``, or ``default_sandbox()`` through ``$SELFGYM_SANDBOX``) and any reward
function that runs checkers can use it unchanged. What the service says travels back as it was:
a job's misbehaviour is a ``Result``; the service's own sandbox failure (``infra_error``) is
raised here as ``SandboxError``, so checkers return ``Verdict.infra_error`` (NaN), never 0. A
busy service (429) or one that is starting or stopping (503) is retried with backoff for up to
``busy_timeout_s``; a service that cannot be reached is retried ``retries`` times; both then
raise ``SandboxError``. A refused token raises ``ConfigError`` at once: that is a set-up
mistake, and it must stop a run rather than mask every reward.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from selfgym.errors import ConfigError, SandboxError, require
from selfgym.verifiers.limits import Limits, Result
from selfgym.verifiers.pool import Sandbox
from selfgym.verifiers.service import TOKEN_ENV, encode_job

URL_ENV = "SELFGYM_VERIFIER_URL"


class RemoteSandbox(Sandbox):
    """A client of ``selfgym verifier-serve`` (see the module doc).

    Args:
        limits: default limits sent with each job.
        url: the service (default ``$SELFGYM_VERIFIER_URL``).
        token: the shared token (default ``$SELFGYM_VERIFIER_TOKEN``).
        retries: extra tries after a connection failure.
        busy_timeout_s: how long to keep retrying 429/503 answers.
        options: pool options meant for a local backend (``pool_size``, ``max_jobs``, ``image``)
            are accepted and ignored: the service owns its pool.
    """

    name = "remote"

    def __init__(self, limits: Limits | None = None, *, url: str | None = None, token: str | None = None,
                 retries: int = 2, busy_timeout_s: float = 120.0, **options: Any):
        require("httpx", "distributed", "using a remote verifier service")
        unknown = set(options) - {"pool_size", "max_jobs", "image"}
        if unknown:
            raise ConfigError(f"RemoteSandbox does not take {sorted(unknown)}")
        self.url = (url or os.environ.get(URL_ENV, "")).rstrip("/")
        self.token = token if token is not None else os.environ.get(TOKEN_ENV, "")
        if not self.url:
            raise ConfigError(f"the remote sandbox needs the service's address: url=... or ${URL_ENV}")
        if not self.token:
            raise ConfigError(f"the remote sandbox needs the service's shared token: token=... or ${TOKEN_ENV}")
        self.limits = limits or Limits()
        self.retries = retries
        self.busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self.busy_retries = 0

    def _client(self):
        import httpx

        c = getattr(self._local, "client", None)
        if c is None:
            c = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"},
                             timeout=httpx.Timeout(connect=10.0, read=None, write=60.0, pool=60.0))
            self._local.client = c
        return c

    def _post(self, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        import httpx

        busy_until = time.monotonic() + self.busy_timeout_s
        failures: list[str] = []
        delay = 0.05
        while True:
            try:
                r = self._client().post(path, json=body, timeout=timeout)
            except httpx.HTTPError as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
                if len(failures) > self.retries:
                    raise SandboxError(f"verifier service {self.url} unreachable: {'; '.join(failures[-3:])}") from exc
                time.sleep(min(2.0, 0.2 * 2 ** len(failures)))
                continue
            if r.status_code in (429, 503):
                if time.monotonic() + delay > busy_until:
                    raise SandboxError(f"verifier service {self.url} stayed busy ({r.status_code}) "
                                       f"for {self.busy_timeout_s:.0f}s")
                self.busy_retries += 1
                retry_after = float(r.headers.get("Retry-After", "0") or 0)
                time.sleep(min(max(delay, 0.0), retry_after or delay))
                delay = min(1.0, delay * 2)
                continue
            if r.status_code == 401:
                raise ConfigError(f"verifier service {self.url} refused the token (401); check ${TOKEN_ENV}")
            if r.status_code in (413, 422):
                raise ConfigError(f"verifier service {self.url} rejected the request ({r.status_code}): {r.text[:300]}")
            if r.status_code != 200:
                raise SandboxError(f"verifier service {self.url} answered {r.status_code}: {r.text[:300]}")
            return r.json()

    @staticmethod
    def _result(entry: dict[str, Any]) -> Result:
        if "infra_error" in entry:
            raise SandboxError(f"remote sandbox: {entry['infra_error']}")
        return Result(**entry["result"])

    def run(self, files, command, limits=None, stdin=None) -> Result:
        if not command or not all(isinstance(c, str) for c in command):
            raise TypeError(f"command must be a non-empty list of strings, got {command!r}")
        limits = limits or self.limits
        out = self._post("/v1/run", encode_job(files, command, limits, stdin), timeout=limits.timeout_s + 120.0)
        return self._result(out)

    def run_batch(self, jobs: list[dict[str, Any]]) -> list[Result | SandboxError]:
        """Run many jobs (each ``{"files", "command", "limits"?, "stdin"?}``) in one request per
        chunk of the service's capacity; each entry is a Result or the SandboxError of that job."""
        encoded = [encode_job(j["files"], j["command"], j.get("limits") or self.limits, j.get("stdin")) for j in jobs]
        cap = int(self.status().get("capacity", 64))
        out: list[Result | SandboxError] = []
        longest = max((j.get("limits") or self.limits).timeout_s for j in jobs) if jobs else 0.0
        for k in range(0, len(encoded), cap):
            for entry in self._post("/v1/batch", {"jobs": encoded[k:k + cap]}, timeout=longest + 300.0)["results"]:
                try:
                    out.append(self._result(entry))
                except SandboxError as exc:
                    out.append(exc)
        return out

    def warm(self) -> RemoteSandbox:
        self.status()
        return self

    def status(self) -> dict:
        import httpx

        try:
            r = self._client().get("/v1/info", timeout=10.0)
        except httpx.HTTPError as exc:
            raise SandboxError(f"verifier service {self.url} unreachable: {exc}") from exc
        if r.status_code == 401:
            raise ConfigError(f"verifier service {self.url} refused the token (401); check ${TOKEN_ENV}")
        r.raise_for_status()
        return r.json()

    def close(self) -> None:
        c = getattr(self._local, "client", None)
        if c is not None:
            c.close()
            self._local.client = None
