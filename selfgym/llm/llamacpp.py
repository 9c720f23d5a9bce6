"""llama.cpp in-process: an xllamacpp server on a loopback port, driven as an OpenAI backend.

``LlamaCppBackend(gguf)`` starts (or reuses) an ``xllamacpp.Server`` inside this process, bound
to 127.0.0.1 on a free port, with ``n_parallel`` slots so a batch of chats decodes together
(continuous batching). It then talks to it like any OpenAI-compatible server, and adds the
prompt's token ids (llama.cpp's ``/apply-template`` and ``/tokenize``, as ``OpenAIBackend`` does
for any llama.cpp server) so trajectories carry prompt and completion tokens alike.

One server per (model, slots, context) is shared by every backend in the process: tests,
agents and wrappers that each ask for ``make_backend("default")`` load the model once.

``derive_gguf(src, "F16")`` rewrites a GGUF with other weight types (de-quantised from ``src``,
optionally re-quantised), offline, into the model cache; llama.cpp's CPU kernels batch some weight
types far better than others (see docs/BENCHMARKS.md, "GGUF weight types and batching").
"""

from __future__ import annotations

import atexit
import os
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any

from selfgym.errors import BackendError, DependencyError
from selfgym.llm.base import Chat, SamplingParams
from selfgym.llm.openai import OpenAIBackend

_SERVERS: dict[tuple, LlamaCppServer] = {}
_LOCK = threading.Lock()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Weight types derive_gguf writes, with their llama.cpp file-type ids (``general.file_type``).
GGUF_WEIGHT_TYPES = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "BF16": 32}


def derived_gguf_path(src: str | os.PathLike, weight_type: str) -> Path:
    """Where ``derive_gguf`` caches ``src`` rewritten with ``weight_type`` (it may not exist yet)."""
    from selfgym.models import converted_dir_for

    folder = converted_dir_for(src)
    return folder.with_name(f"{folder.name}.{weight_type}.gguf")


def derive_gguf(src: str | os.PathLike, weight_type: str, out: str | os.PathLike | None = None) -> Path:
    """``src`` with its matrices rewritten as ``weight_type``; returns the new file's path.

    Every quantised matrix is de-quantised to float32 and written as ``F32``/``F16``/``BF16``, or
    re-quantised (``Q8_0``, ``Q4_0``, ``Q5_0``, ``Q4_1``) with the ``gguf`` package's reference
    quantisers. Norms and other 1-D float32 tensors are copied; for the quantised targets a
    ``Q8_0`` matrix (the default model's embedding) is copied as it is. Metadata (tokenizer, chat
    template, hyper-parameters) is copied; ``general.file_type`` names the new type. ``F32`` holds
    exactly ``src``'s weights (llama.cpp then multiplies them by float activations, where quantised
    types round the activations to 8 bits first); ``F16`` rounds each weight once.

    Without ``out`` the file goes to ``derived_gguf_path(src, weight_type)`` and is reused while
    ``src`` is unchanged. The file appears atomically (written beside, then renamed), so concurrent
    callers never see half a file. Raises ConfigError for an unknown type.
    """
    from selfgym.errors import ConfigError

    if weight_type not in GGUF_WEIGHT_TYPES:
        raise ConfigError(f"unknown GGUF weight type {weight_type!r}; use one of {sorted(GGUF_WEIGHT_TYPES)}")
    try:
        import gguf
        import numpy as np
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise DependencyError("gguf", "llamacpp", "rewriting GGUF weight types") from exc
    src = Path(src)
    dest = Path(out) if out is not None else derived_gguf_path(src, weight_type)
    if out is None and dest.is_file():
        return dest
    qt = gguf.GGMLQuantizationType
    target = qt[weight_type]
    reader = gguf.GGUFReader(src)
    arch_field = reader.get_field(gguf.Keys.General.ARCHITECTURE)
    if arch_field is None:
        raise BackendError(f"{src} names no architecture (general.architecture); not a llama.cpp model file")
    arch = arch_field.contents()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    os.close(fd)
    try:
        writer = gguf.GGUFWriter(tmp, arch=arch, endianess=reader.endianess)
        for field in reader.fields.values():
            if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
                continue  # written by GGUFWriter itself
            kind = field.types[0]
            sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
            value = GGUF_WEIGHT_TYPES[weight_type] if field.name == "general.file_type" else field.contents()
            writer.add_key_value(field.name, value, kind, sub_type=sub)
        for t in reader.tensors:
            data = np.array(t.data)
            if (t.tensor_type == qt.F32 and data.ndim == 1) or t.tensor_type == target or (
                    t.tensor_type == qt.Q8_0 and target not in (qt.F32, qt.F16, qt.BF16)):
                writer.add_tensor(t.name, data, raw_dtype=t.tensor_type)
                continue
            x = gguf.quants.dequantize(data, t.tensor_type).astype(np.float32)
            if target == qt.F32:
                writer.add_tensor(t.name, x)
            elif target == qt.F16:
                writer.add_tensor(t.name, x.astype(np.float16))
            else:
                writer.add_tensor(t.name, gguf.quants.quantize(x, target), raw_dtype=target)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


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
        ubatch: llama.cpp's logical and physical batch (``n_batch``, ``n_ubatch``; default: its
            own, 2,048 and 512): the most tokens one forward pass takes (prompts are split).
        host / port: where to listen (default: 127.0.0.1 on a free port); ``selfgym serve`` sets them.
        alias: the model name the server reports in ``/v1/models`` (default: the file's path).
    """

    def __init__(self, gguf: str | os.PathLike, n_parallel: int = 8, ctx_per_slot: int = 4096,
                 threads: int | None = None, host: str = "127.0.0.1", port: int | None = None,
                 alias: str | None = None, unified_kv: bool = False, ubatch: int | None = None):
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
        if ubatch:
            params.n_batch = params.n_ubatch = int(ubatch)
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
                  threads: int | None = None, ubatch: int | None = None) -> LlamaCppServer:
    """The process-wide server for these settings, started on first use."""
    key = (str(Path(gguf).resolve()), int(n_parallel), int(ctx_per_slot), threads or default_threads(), ubatch)
    with _LOCK:
        server = _SERVERS.get(key)
        if server is None:
            server = _SERVERS[key] = LlamaCppServer(gguf, n_parallel, ctx_per_slot, threads, ubatch=ubatch)
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
        threads / ubatch: see ``LlamaCppServer``.
        weight_type: serve ``gguf`` rewritten with these weights (``derive_gguf``, cached after the
            first use), e.g. ``"Q4_0"``: cheaper batches and single chats on x86, one more
            rounding of the weights (docs/BENCHMARKS.md, "GGUF weight types and batching").
        cache_prompt: let a slot reuse the KV cache of the prompt it served before (default).
            A reused prefix is computed in a different batch shape than a fresh one, which can
            flip near-tied greedy tokens, so greedy outputs then depend on what the server served
            earlier. ``False`` recomputes every prompt: reproducible greedy runs, at about twice
            the cost on multi-turn episodes.
    """

    def __init__(self, gguf: str | os.PathLike | None = None, n_parallel: int = 8, ctx_per_slot: int = 4096,
                 threads: int | None = None, prompt_token_ids: bool = True, ubatch: int | None = None,
                 weight_type: str | None = None, cache_prompt: bool = True, **kw: Any):
        if gguf is None:
            from selfgym.models import default_gguf_path

            gguf = default_gguf_path()
        if weight_type:
            gguf = derive_gguf(gguf, weight_type)
        self.server = shared_server(gguf, n_parallel, ctx_per_slot, threads, ubatch)
        super().__init__(self.server.url, model=Path(gguf).name, concurrency=max(n_parallel, 1),
                         prompt_token_ids=prompt_token_ids, **kw)
        self.name = f"llamacpp:{Path(gguf).name}"
        self.want_prompt_ids = prompt_token_ids
        self.cache_prompt = bool(cache_prompt)

    def _body(self, chat: Chat, sampling: SamplingParams) -> dict[str, Any]:
        return {**super()._body(chat, sampling), "cache_prompt": self.cache_prompt}
