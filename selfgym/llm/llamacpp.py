"""llama.cpp in-process: an xllamacpp server on a loopback port, driven as an OpenAI backend.

``LlamaCppBackend(gguf)`` starts (or reuses) an ``xllamacpp.Server`` inside this process, bound
to 127.0.0.1 on a free port, with ``n_parallel`` slots so a batch of chats decodes together
(continuous batching). It then talks to it like any OpenAI-compatible server, and adds the
prompt's token ids (llama.cpp's ``/apply-template`` and ``/tokenize``, as ``OpenAIBackend`` does
for any llama.cpp server) so trajectories carry prompt and completion tokens alike.

One server per (model, slots, context) is shared by every backend in the process: tests,
agents and wrappers that each ask for ``make_backend("default")`` load the model once.
"""

from __future__ import annotations

import atexit
import os
import socket
import threading
from pathlib import Path
from typing import Any

from selfgym.errors import BackendError, DependencyError
from selfgym.llm.openai import OpenAIBackend

_SERVERS: dict[tuple, "LlamaCppServer"] = {}
_LOCK = threading.Lock()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def default_threads() -> int:
    """Decoding threads when none are given (see ``LlamaCppServer``)."""
    env = os.environ.get("SELFGYM_LLAMACPP_THREADS")
    if env:
        return max(1, int(env))
    return max(1, (os.cpu_count() or 2) // 2)


class LlamaCppServer:
    """An xllamacpp (llama.cpp) HTTP server running in this process on 127.0.0.1.

    Args:
        gguf: the model file.
        n_parallel: decoding slots (chats decoded at once).
        ctx_per_slot: context tokens per slot (prompt plus completion; 4,096 by default, about
            23 KB of cache per token for the default model, 0.75 GB for 8 slots).
        unified_kv: one KV cache shared by all slots (a long chat may then use up to
            ``n_parallel * ctx_per_slot``). Off by default: with a unified cache, greedy outputs
            of a batch differed from the same chats decoded one by one (3 of 4 trial runs, on the
            first batch after start-up, for 1 to 3 of 8 chats), while per-slot caches gave
            identical outputs in every run; the speed was the same within noise.
        threads: CPU threads for decoding. Default: ``$SELFGYM_LLAMACPP_THREADS``, else half the
            cores (at least 1). llama.cpp's threads spin while they wait, so on a busy machine
            fewer threads are much faster (measured here: 1 thread 5 s, 2 threads 37 s per batch).
        host / port: where to listen (default: 127.0.0.1 on a free port); ``selfgym serve`` sets them.
        alias: the model name the server reports in ``/v1/models`` (default: the file's path).
    """

    def __init__(self, gguf: str | os.PathLike, n_parallel: int = 8, ctx_per_slot: int = 4096,
                 threads: int | None = None, host: str = "127.0.0.1", port: int | None = None,
                 alias: str | None = None, unified_kv: bool = False):
        try:
            import xllamacpp
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise DependencyError("xllamacpp", "llamacpp", "serving GGUF models") from exc
        path = Path(gguf)
        if not path.is_file():
            raise BackendError(f"no GGUF model at {path}")
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_parallel = int(n_parallel)
        params.n_ctx = int(n_parallel) * int(ctx_per_slot)
        params.kv_unified = bool(unified_kv)  # per-slot caches keep batched greedy outputs exact
        params.hostnames = [host]
        if alias:
            params.model_alias = {alias}
        params.verbosity = -1
        threads = threads or default_threads()
        if threads:
            params.cpuparams.n_threads = int(threads)
            params.cpuparams_batch.n_threads = int(threads)
        last: Exception | None = None
        for _ in range(1 if port else 3):  # a free port can be taken between probing and binding
            params.port = int(port) if port else _free_port()
            try:
                self._server = xllamacpp.Server(params)
                break
            except Exception as exc:  # noqa: BLE001 - xllamacpp raises plain RuntimeError
                last = exc
        else:
            raise BackendError(f"xllamacpp could not start a server for {path}: {last}")
        self.gguf = path
        self.n_parallel = int(n_parallel)
        self.url = f"http://{host}:{params.port}"

    def close(self) -> None:
        """Stop the server (it also stops when the process exits)."""
        server = getattr(self, "_server", None)
        self._server = None
        del server


def shared_server(gguf: str | os.PathLike, n_parallel: int = 8, ctx_per_slot: int = 4096,
                  threads: int | None = None) -> LlamaCppServer:
    """The process-wide server for these settings, started on first use."""
    key = (str(Path(gguf).resolve()), int(n_parallel), int(ctx_per_slot), threads or default_threads())
    with _LOCK:
        server = _SERVERS.get(key)
        if server is None:
            server = _SERVERS[key] = LlamaCppServer(gguf, n_parallel, ctx_per_slot, threads)
        return server


@atexit.register
def _stop_all() -> None:
    for server in list(_SERVERS.values()):
        server.close()
    _SERVERS.clear()


class LlamaCppBackend(OpenAIBackend):
    """A GGUF model served in-process by xllamacpp (see the module docstring).

    Args:
        gguf: the model file; None means the default model (``selfgym.models.default_gguf_path``).
        n_parallel: server slots; batches larger than this queue on the server.
        ctx_per_slot: context tokens per slot.
        prompt_token_ids: also fetch each prompt's token ids (two small local requests per chat).
    """

    def __init__(self, gguf: str | os.PathLike | None = None, n_parallel: int = 8, ctx_per_slot: int = 4096,
                 threads: int | None = None, prompt_token_ids: bool = True, **kw: Any):
        if gguf is None:
            from selfgym.models import default_gguf_path

            gguf = default_gguf_path()
        self.server = shared_server(gguf, n_parallel, ctx_per_slot, threads)
        super().__init__(self.server.url, model=Path(gguf).name, concurrency=max(n_parallel, 1),
                         prompt_token_ids=prompt_token_ids, **kw)
        self.name = f"llamacpp:{Path(gguf).name}"
        self.want_prompt_ids = prompt_token_ids
