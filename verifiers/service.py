"""The shared verifier service: sandbox pools behind HTTP (FastAPI + uvicorn).

    selfgym verifier-serve --port 8700 --token-file ~/.selfgym-token --backend docker --pool-size 8
    SELFGYM_SANDBOX=remote SELFGYM_VERIFIER_URL=http://host:8700 SELFGYM_VERIFIER_TOKEN=... python train.py

Routes (all but ``/healthz`` need ``Authorization: Bearer <token>``; without the right token
the answer is 401 and nothing runs):

- ``POST /v1/run``: one job ``{"files", "command", "limits", "stdin"}`` (files: text, or
  ``{"b64": ...}`` for bytes; stdin base64) → ``{"result": Result}`` or
  ``{"infra_error": "..."}`` when the sandbox failed after its retries. An infrastructure error
  crosses the wire as itself, and ``RemoteSandbox`` raises it again as ``SandboxError``, so a
  checker returns ``Verdict.infra_error`` (NaN), never a 0.
- ``POST /v1/batch``: ``{"jobs": [...]}`` → ``{"results": [...]}``, one entry per job, in order.
- ``GET /v1/info``: backend, pool status, capacity, queue length.
- ``GET /healthz``: liveness only.

Back-pressure: at most ``capacity`` jobs are admitted at once (running plus queued on the
``workers`` threads that feed the pool). A request that does not fit is refused at once with
429 and ``Retry-After``; a batch larger than ``capacity`` gets 413 (split it); a service that
is shutting down or whose sandbox is closed answers 503. ``RemoteSandbox`` retries 429/503 with
backoff until ``busy_timeout_s``, then raises ``SandboxError``.

Behind the service, ``RaySandboxPool`` fans jobs out over one sandbox pool per Ray node (an
actor per node, placement ``STRICT_SPREAD``), least busy first, replacing an actor whose node
died and retrying its job elsewhere.
"""

import asyncio
import base64
import contextlib
import hmac
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from selfgym.errors import ConfigError, SandboxError, require
from selfgym.verifiers.limits import Limits, Result
from selfgym.verifiers.pool import Sandbox

TOKEN_ENV = "SELFGYM_VERIFIER_TOKEN"


# ------------------------------------------------------------------------------ wire format
def encode_job(files: dict[str, str | bytes], command: list[str], limits: Limits | None,
               stdin: bytes | None) -> dict[str, Any]:
    """A job as JSON (bytes as base64)."""
    return {
        "files": {k: ({"b64": base64.b64encode(v).decode()} if isinstance(v, (bytes, bytearray)) else v)
                  for k, v in files.items()},
        "command": list(command),
        "limits": limits.to_dict() if limits is not None else None,
        "stdin": base64.b64encode(stdin).decode() if stdin else None,
    }


def decode_job(job: dict[str, Any]) -> tuple[dict[str, str | bytes], list[str], Limits | None, bytes | None]:
    """The inverse of ``encode_job``; malformed jobs raise ``ValueError``."""
    if not isinstance(job, dict):
        raise ValueError("a job must be a JSON object")
    files = job.get("files") or {}
    command = job.get("command")
    if not isinstance(files, dict):
        raise ValueError("files must map paths to text or {'b64': ...}")
    if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
        raise ValueError(f"command must be a non-empty list of strings, got {command!r}")
    out: dict[str, str | bytes] = {}
    for k, v in files.items():
        if isinstance(v, dict) and "b64" in v:
            out[k] = base64.b64decode(v["b64"])
        elif isinstance(v, str):
            out[k] = v
        else:
            raise ValueError(f"file {k!r} must be text or {{'b64': ...}}")
    try:
        limits = Limits(**job["limits"]) if job.get("limits") else None
    except (TypeError, ConfigError) as exc:
        raise ValueError(f"bad limits: {exc}") from exc
    stdin = base64.b64decode(job["stdin"]) if job.get("stdin") else None
    return out, list(command), limits, stdin


# ------------------------------------------------------------------------------ the app
class _Admission:
    """Counts admitted jobs; refuses what does not fit instead of queueing without bound."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.admitted = 0
        self.refused = 0
        self.lock = threading.Lock()

    def take(self, n: int) -> bool:
        with self.lock:
            if self.admitted + n > self.capacity:
                self.refused += 1
                return False
            self.admitted += n
            return True

    def give(self, n: int) -> None:
        with self.lock:
            self.admitted -= n


def make_app(sandbox: Sandbox, token: str, *, capacity: int = 64, workers: int | None = None):
    """The FastAPI app serving ``sandbox`` to holders of ``token`` (see the module doc)."""
    require("fastapi", "distributed", "serving verification over HTTP")
    from fastapi import Depends, FastAPI, HTTPException, Request
    from fastapi.responses import JSONResponse

    if not token or len(token) < 16:
        raise ConfigError("the verifier service needs a shared token of at least 16 characters "
                          f"(--token-file, or ${TOKEN_ENV}); it must not run code for anyone who can reach its port")
    workers = workers or max(2, getattr(getattr(sandbox, "pool", None), "size", 4))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verify")
    admission = _Admission(capacity)
    state = {"closing": False, "jobs": 0, "infra_errors": 0}
    expected = f"Bearer {token}".encode()

    def check_token(request: Request) -> None:
        got = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(got, expected):
            raise HTTPException(status_code=401, detail="missing or wrong token",
                                headers={"WWW-Authenticate": "Bearer"})

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        state["closing"] = True
        pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="selfgym verifier service", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)

    def busy() -> JSONResponse:
        return JSONResponse(status_code=429, headers={"Retry-After": "1"},
                            content={"error": "busy", "admitted": admission.admitted, "capacity": capacity})

    def run_one(job: dict[str, Any]) -> dict[str, Any]:
        try:
            files, command, limits, stdin = decode_job(job)
        except (ValueError, TypeError) as exc:
            return {"bad_job": str(exc)}
        try:
            res = sandbox.run(files, command, limits, stdin=stdin)
        except SandboxError as exc:
            state["infra_errors"] += 1
            return {"infra_error": str(exc)}
        finally:
            state["jobs"] += 1
        return {"result": res.to_dict()}

    async def run_many(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        try:
            return list(await asyncio.gather(*(loop.run_in_executor(pool, run_one, j) for j in jobs)))
        finally:
            admission.give(len(jobs))

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"ok": not state["closing"]}

    @app.get("/v1/info", dependencies=[Depends(check_token)])
    async def info() -> dict[str, Any]:
        return {"backend": getattr(sandbox, "name", "?"), "status": sandbox.status(), "capacity": capacity,
                "workers": workers, "admitted": admission.admitted, "refused": admission.refused, **state}

    @app.post("/v1/run", dependencies=[Depends(check_token)])
    async def run(request: Request):
        if state["closing"]:
            return JSONResponse(status_code=503, content={"error": "shutting down"})
        job = await request.json()
        if not admission.take(1):
            return busy()
        out = (await run_many([job]))[0]
        if "bad_job" in out:
            return JSONResponse(status_code=422, content={"error": out["bad_job"]})
        return out

    @app.post("/v1/batch", dependencies=[Depends(check_token)])
    async def batch(request: Request):
        if state["closing"]:
            return JSONResponse(status_code=503, content={"error": "shutting down"})
        body = await request.json()
        jobs = body.get("jobs") if isinstance(body, dict) else None
        if not isinstance(jobs, list):
            return JSONResponse(status_code=422, content={"error": "expected {'jobs': [...]}"})
        if len(jobs) > capacity:
            return JSONResponse(status_code=413, content={"error": f"batch of {len(jobs)} exceeds capacity {capacity}",
                                                          "capacity": capacity})
        if not jobs:
            return {"results": []}
        if not admission.take(len(jobs)):
            return busy()
        return {"results": await run_many(jobs)}

    app.state.admission = admission
    app.state.sandbox = sandbox
    return app


# ------------------------------------------------------------------------------ serving
class BackgroundServer:
    """A uvicorn server for ``app`` on a thread (loopback by default; port 0 picks a free one)."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.host, self.port = host, self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws_max_size=100 * 2**20, lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        end = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > end or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()

    def __enter__(self) -> "BackgroundServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# ------------------------------------------------------------------------------ Ray fan-out
class _SandboxHost:
    """Ray actor body: one sandbox pool on its node."""

    def __init__(self, backend: str, pool_size: int, limits: dict | None):
        from selfgym.verifiers import get_sandbox

        self.sandbox = get_sandbox(backend, Limits(**limits) if limits else None, pool_size=pool_size).warm()

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        files, command, limits, stdin = decode_job(job)
        try:
            return {"result": self.sandbox.run(files, command, limits, stdin=stdin).to_dict()}
        except SandboxError as exc:
            return {"infra_error": str(exc)}

    def where(self) -> str:
        import ray

        return ray.get_runtime_context().get_node_id()

    def close(self) -> None:
        self.sandbox.close()


class RaySandboxPool(Sandbox):
    """The Sandbox contract over one sandbox pool per Ray node (``nodes`` actors, STRICT_SPREAD).

    Each job goes to the actor with the fewest jobs in flight. A job whose actor died (its node
    removed, the process killed) is retried on another actor while a replacement starts; after
    ``retries`` such failures it raises ``SandboxError``.
    """

    name = "ray"

    def __init__(self, limits: Limits | None = None, *, nodes: int = 2, backend: str = "process", pool_size: int = 2,
                 retries: int = 2, address: str | None = None, strategy: str = "STRICT_SPREAD",
                 num_cpus: float = 0.5, resources: dict[str, float] | None = None):
        ray = require("ray", "distributed", "fanning verification out over Ray nodes")
        from ray.util.placement_group import placement_group
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        self.limits = limits or Limits()
        self.retries = retries
        self._own_ray = False
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
            self._own_ray = True
        self._opts = dict(num_cpus=num_cpus, resources=resources or None, max_concurrency=pool_size, max_restarts=0)
        self._args = (backend, pool_size, self.limits.to_dict())
        self._cls = ray.remote(_SandboxHost)
        self.pg = placement_group([{"CPU": num_cpus, **(resources or {})} for _ in range(nodes)], strategy=strategy)
        ray.get(self.pg.ready(), timeout=120)
        self.actors = [
            self._cls.options(**self._opts, scheduling_strategy=PlacementGroupSchedulingStrategy(
                self.pg, placement_group_bundle_index=i)).remote(*self._args)
            for i in range(nodes)
        ]
        self._inflight = [0] * nodes
        self._lock = threading.Lock()
        self.replaced = 0
        self.jobs = 0

    def run(self, files, command, limits=None, stdin=None) -> Result:
        import ray
        from ray.exceptions import RayActorError

        if not command or not all(isinstance(c, str) for c in command):
            raise TypeError(f"command must be a non-empty list of strings, got {command!r}")
        job = encode_job(files, command, limits or self.limits, stdin)
        errors: list[str] = []
        for _ in range(self.retries + 1):
            with self._lock:
                i = min(range(len(self.actors)), key=lambda k: self._inflight[k])
                actor = self.actors[i]
                self._inflight[i] += 1
            try:
                out: dict[str, Any] = ray.get(actor.run.remote(job))
            except RayActorError as exc:
                errors.append(f"node pool {i} lost: {type(exc).__name__}")
                self._replace(i, actor)
                continue
            finally:
                with self._lock:
                    self._inflight[i] -= 1
            self.jobs += 1
            if "infra_error" in out:
                raise SandboxError(out["infra_error"])
            return Result(**out["result"])
        raise SandboxError(f"ray sandbox pool failed {self.retries + 1} times: {'; '.join(errors[-3:])}")

    def _replace(self, i: int, dead: Any) -> None:
        import ray

        with self._lock:
            if self.actors[i] is not dead:
                return  # another thread already replaced it
            self.actors[i] = self._cls.options(**self._opts, scheduling_strategy="SPREAD").remote(*self._args)
            self.replaced += 1
        try:
            ray.kill(dead, no_restart=True)
        except Exception:  # noqa: BLE001
            pass

    def nodes(self) -> list[str]:
        import ray

        return ray.get([a.where.remote() for a in self.actors])

    def warm(self) -> "RaySandboxPool":
        self.nodes()
        return self

    def status(self) -> dict:
        return {"backend": self.name, "actors": len(self.actors), "inflight": list(self._inflight),
                "replaced": self.replaced, "jobs": self.jobs, "limits": self.limits.to_dict()}

    def close(self) -> None:
        from selfgym.executors.ray_exec import release_actors

        release_actors(self.actors, self.pg, self._own_ray, close_first=True)


# ------------------------------------------------------------------------------ CLI
def read_token(path: str | None) -> str:
    """The shared token from ``path`` (first line) or ``$SELFGYM_VERIFIER_TOKEN``."""
    if path:
        with open(os.path.expanduser(path), encoding="utf-8") as f:
            return f.readline().strip()
    return os.environ.get(TOKEN_ENV, "").strip()


def register_cli(sub) -> None:
    p = sub.add_parser("verifier-serve", help="serve sandbox verification over HTTP to holders of a shared token")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    p.add_argument("--port", type=int, default=8700)
    p.add_argument("--token-file", default=None, help=f"file whose first line is the token (default: ${TOKEN_ENV})")
    p.add_argument("--backend", default="auto", choices=("docker", "process", "auto", "ray"),
                   help="sandbox behind the service; 'ray' puts one pool on each of --nodes Ray nodes")
    p.add_argument("--pool-size", type=int, default=None, help="warm sandbox workers (per node with --backend ray)")
    p.add_argument("--capacity", type=int, default=64, help="jobs admitted at once; more are refused with 429")
    p.add_argument("--nodes", type=int, default=2, help="with --backend ray: pools (one per node)")
    p.add_argument("--node-backend", default="auto", choices=("docker", "process", "auto"),
                   help="with --backend ray: each node's sandbox")
    p.add_argument("--address", default=None, help="with --backend ray: the Ray cluster (default: start a local one)")
    p.set_defaults(func=_serve)


def _serve(args) -> int:
    import uvicorn

    from selfgym.verifiers import get_sandbox

    token = read_token(args.token_file)
    if args.backend == "ray":
        sandbox: Sandbox = RaySandboxPool(nodes=args.nodes, backend=args.node_backend, pool_size=args.pool_size or 2,
                                          address=args.address)
    else:
        opts = {"pool_size": args.pool_size} if args.pool_size else {}
        sandbox = get_sandbox(args.backend, **opts)
    app = make_app(sandbox, token, capacity=args.capacity)
    sandbox.warm()
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        sandbox.close()
    return 0
