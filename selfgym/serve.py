"""``selfgym serve``: a model as an OpenAI-compatible server on a port.

    selfgym serve                                   # the default model (its GGUF, llama.cpp) on 127.0.0.1:8000
    selfgym serve path/to/model.gguf --port 8080    # any GGUF
    selfgym serve path/to/transformers-folder       # any local transformers folder
    selfgym serve default --engine transformers     # the converted default model under transformers

Then any agent, trainer or ``selfgym run --model openai:http://127.0.0.1:8000/v1`` uses it.

Two engines:

- ``llamacpp`` (GGUF files): the same in-process xllamacpp server that ``make_backend("default")``
  starts (``selfgym.llm.llamacpp.LlamaCppServer``), bound to the given host and port, with
  ``--slots`` chats decoded together. It speaks llama.cpp's whole HTTP API: ``/v1/chat/completions``
  (token ids in the logprobs entries' ``id``), ``/v1/models``, ``/health``, ``/tokenize``,
  ``/apply-template``, from which ``OpenAIBackend`` gets prompt token ids.
- ``transformers`` (model folders): a small HTTP server over ``TransformersBackend``.
  ``POST /v1/chat/completions`` (``messages``, ``max_tokens``, ``temperature``, ``top_p``, ``n``,
  ``stop``, ``seed``, ``logprobs``, ``top_logprobs``; no streaming), ``GET /v1/models`` and
  ``GET /health``. Each response carries ``prompt_token_ids`` (top level) and each choice its
  ``token_ids``, as vLLM does with ``return_token_ids``. Requests arriving within a few
  milliseconds of each other with the same sampling settings are decoded as one batch.

The server runs until SIGINT or SIGTERM.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from selfgym.errors import ConfigError

ENGINES = ("auto", "llamacpp", "transformers")


def register_cli(sub) -> None:
    p = sub.add_parser("serve", help="serve a model as an OpenAI-compatible server (for --model openai:URL)")
    p.add_argument("model", nargs="?", default="default",
                   help="'default' (the default model), a .gguf file, or a local transformers folder")
    p.add_argument("--engine", choices=ENGINES, default="auto",
                   help="llamacpp for GGUF files, transformers for folders (auto: by what MODEL is)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--name", default=None, help="model name reported by /v1/models (default: from MODEL)")
    p.add_argument("--slots", type=int, default=8, help="llamacpp: chats decoded together (default 8)")
    p.add_argument("--ctx", type=int, default=2048, help="llamacpp: context tokens per slot (default 2048)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads (llamacpp default: $SELFGYM_LLAMACPP_THREADS or half the cores)")
    p.add_argument("--max-batch", type=int, default=16, help="transformers: chats per generate call (default 16)")
    p.set_defaults(func=_serve)


# ------------------------------------------------------------------------------ what to serve
def resolve(model: str, engine: str = "auto") -> tuple[str, str, str]:
    """(engine, path, name) for ``model``: "default", a GGUF file or a transformers folder."""
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {ENGINES}, got {engine!r}")
    if model == "default":
        from selfgym.models import DEFAULT_MODEL_NAME, default_gguf_path, default_model_dir

        if engine == "transformers":
            return "transformers", default_model_dir(), DEFAULT_MODEL_NAME
        return "llamacpp", str(default_gguf_path()), DEFAULT_MODEL_NAME
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        if engine == "transformers":
            raise ConfigError(f"{path} is a GGUF file: serve it with --engine llamacpp (or auto)")
        return "llamacpp", str(path), path.stem
    if path.is_dir() and (path / "config.json").is_file():
        if engine == "llamacpp":
            raise ConfigError(f"{path} is a transformers folder: serve it with --engine transformers (or auto)")
        return "transformers", str(path), path.name
    raise ConfigError(f"cannot serve {model!r}: give 'default', a .gguf file, or a local transformers folder "
                      "(one with config.json)")


# ------------------------------------------------------------------------------ transformers engine
@dataclass
class _Request:
    chat: list
    sampling: Any
    future: Future


class _Batcher:
    """Collects concurrent requests and runs each group with equal sampling as one ``generate``."""

    def __init__(self, backend: Any, max_batch: int = 16, window_s: float = 0.01):
        self.backend = backend
        self.max_batch = max(1, int(max_batch))
        self.window_s = window_s
        self.queue: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._loop, name="selfgym-serve-batcher", daemon=True)
        self.thread.start()

    def submit(self, chat: list, sampling: Any) -> list:
        fut: Future = Future()
        self.queue.put(_Request(chat, sampling, fut))
        return fut.result()

    def close(self) -> None:
        self.queue.put(None)

    def _loop(self) -> None:
        while True:
            first = self.queue.get()
            if first is None:
                return
            items = [first]
            deadline = time.monotonic() + self.window_s
            while len(items) < self.max_batch:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    item = self.queue.get(timeout=left)
                except queue.Empty:
                    break
                if item is None:
                    self.queue.put(None)
                    break
                items.append(item)
            groups: dict[str, list[_Request]] = {}
            for item in items:
                groups.setdefault(repr(item.sampling), []).append(item)
            for group in groups.values():
                sampling = group[0].sampling
                try:
                    comps = self.backend.generate([g.chat for g in group], sampling)
                except Exception as exc:  # noqa: BLE001 - handed to the request that asked
                    for g in group:
                        g.future.set_exception(exc)
                    continue
                for k, g in enumerate(group):
                    g.future.set_result(comps[k * sampling.n:(k + 1) * sampling.n])


def _sampling_from(body: dict[str, Any]):
    from selfgym.llm.base import SamplingParams

    stop = body.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if stop is not None and not (isinstance(stop, list) and all(isinstance(s, str) for s in stop)):
        raise ValueError("'stop' must be a string or a list of strings")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens", 256))
    top = int(body.get("top_logprobs") or 0)
    try:
        return SamplingParams(
            temperature=float(body.get("temperature", 1.0)), top_p=float(body.get("top_p", 1.0)),
            max_tokens=int(max_tokens), n=int(body.get("n", 1)), stop=stop,
            seed=None if body.get("seed") is None else int(body["seed"]),
            logprobs=bool(body.get("logprobs")) or top > 0, top_logprobs=top)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"bad sampling field: {exc}") from None


class TransformersServer:
    """An OpenAI-compatible HTTP server over a ``TransformersBackend`` (see the module docstring)."""

    def __init__(self, path: str, name: str, host: str = "127.0.0.1", port: int = 8000,
                 threads: int | None = None, max_batch: int = 16):
        from selfgym.llm.transformers import TransformersBackend

        self.backend = TransformersBackend(path, threads=threads, max_batch=max_batch)
        self.tokenizer = self.backend.tokenizer
        self.name = name
        self.batcher = _Batcher(self.backend, max_batch=max_batch)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):  # quiet: one line per request is noise for a trainer
                pass

            def _send(self, code: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, code: int, message: str, kind: str = "invalid_request_error") -> None:
                self._send(code, {"error": {"message": message, "type": kind, "code": code}})

            def do_GET(self):  # http.server's naming
                path = self.path.split("?", 1)[0].rstrip("/")
                if path in ("/health", "/v1/health"):
                    self._send(200, {"status": "ok"})
                elif path in ("/v1/models", "/models"):
                    self._send(200, {"object": "list", "data": [
                        {"id": server.name, "object": "model", "created": 0, "owned_by": "selfgym"}]})
                else:
                    self._error(404, f"no such endpoint: GET {path}", "not_found_error")

            def do_POST(self):  # http.server's naming
                path = self.path.split("?", 1)[0].rstrip("/")
                if path not in ("/v1/chat/completions", "/chat/completions"):
                    self._error(404, f"no such endpoint: POST {path}", "not_found_error")
                    return
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                    body = json.loads(self.rfile.read(length) or b"{}")
                    if not isinstance(body, dict):
                        raise ValueError("the request body must be a JSON object")
                    messages = body.get("messages")
                    if not (isinstance(messages, list) and messages
                            and all(isinstance(m, dict) and "role" in m for m in messages)):
                        raise ValueError("'messages' must be a non-empty list of {role, content} objects")
                    if body.get("stream"):
                        raise ValueError("streaming is not supported by this server; send stream=false")
                    sampling = _sampling_from(body)
                except (ValueError, json.JSONDecodeError) as exc:
                    self._error(400, str(exc))
                    return
                try:
                    comps = server.batcher.submit(messages, sampling)
                except Exception as exc:  # noqa: BLE001 - the client gets the reason
                    self._error(500, f"generation failed: {type(exc).__name__}: {exc}", "server_error")
                    return
                self._send(200, server.response(comps, sampling))

        self.httpd = ThreadingHTTPServer((host, int(port)), Handler)
        self.httpd.daemon_threads = True
        self.host, self.port = host, self.httpd.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="selfgym-serve-http", daemon=True)
        self._thread.start()

    def response(self, comps: list, sampling: Any) -> dict[str, Any]:
        """The OpenAI chat-completion object for one request's completions."""
        choices = []
        for i, c in enumerate(comps):
            logprobs = None
            if sampling.logprobs and c.logprobs is not None:
                entries = []
                for k, (tid, lp) in enumerate(zip(c.token_ids, c.logprobs)):
                    entry = {"id": int(tid), "token": self.tokenizer.decode([int(tid)]), "logprob": float(lp)}
                    if c.top_logprobs is not None:
                        entry["top_logprobs"] = [{"token": t, "logprob": v} for t, v in c.top_logprobs[k].items()]
                    entries.append(entry)
                logprobs = {"content": entries}
            choices.append({"index": i, "message": {"role": "assistant", "content": c.text},
                            "finish_reason": c.finish_reason, "logprobs": logprobs,
                            "token_ids": list(c.token_ids or [])})
        prompt = comps[0].prompt_token_ids if comps else []
        completion_tokens = sum(len(c.token_ids or []) for c in comps)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
            "model": self.name, "choices": choices, "prompt_token_ids": list(prompt or []),
            "usage": {"prompt_tokens": len(prompt or []), "completion_tokens": completion_tokens,
                      "total_tokens": len(prompt or []) + completion_tokens},
        }

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.batcher.close()


# ------------------------------------------------------------------------------ the command
def start(model: str = "default", engine: str = "auto", host: str = "127.0.0.1", port: int = 8000,
          name: str | None = None, slots: int = 8, ctx: int = 2048, threads: int | None = None,
          max_batch: int = 16):
    """Start serving ``model``; returns the server (``.url``, ``.close()``). ``port=0``: a free port."""
    engine, path, default_name = resolve(model, engine)
    name = name or default_name
    if engine == "llamacpp":
        from selfgym.llm.llamacpp import LlamaCppServer

        server = LlamaCppServer(path, n_parallel=slots, ctx_per_slot=ctx, threads=threads, host=host,
                                port=port or None, alias=name)
    else:
        server = TransformersServer(path, name, host=host, port=port, threads=threads, max_batch=max_batch)
    server.engine, server.model_name = engine, name
    return server


def _serve(args) -> int:
    stop = threading.Event()
    reason: list[str] = []

    def handler(signum, frame):
        reason.append(signal.Signals(signum).name)
        stop.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        server = start(args.model, args.engine, args.host, args.port, args.name, args.slots, args.ctx,
                       args.threads, args.max_batch)
        print(f"serving {server.model_name} ({server.engine}) at {server.url}/v1 (OpenAI-compatible)\n"
              f"use it with: --model openai:{server.url}/v1   (pid {os.getpid()}; Ctrl-C or SIGTERM stops it)",
              flush=True)
        while not stop.wait(0.5):
            pass
        server.close()
        print(f"stopped ({reason[0] if reason else 'signal'})", flush=True)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return 0
