"""OpenAI-compatible HTTP backend: vLLM's server, llama.cpp / xllamacpp servers, any provider.

``OpenAIBackend(base_url, model=None, api_key=None)`` posts one ``/chat/completions`` request
per chat (with ``n`` samples each); the requests of a batch go out together from a thread pool
so a continuous-batching server decodes them as one batch. Token ids come from the logprobs
entries where the server names them (llama.cpp gives ``id``; vLLM gives ``token_id:<n>`` strings
when started with ``--return-tokens-as-token-ids``); log-probabilities wherever the server
returns them. Only the standard library is used (``urllib``), so no client package is needed.

Prompt token ids (``Completion.prompt_token_ids``) come from, in order of preference:

1. the response itself: a top-level ``prompt_token_ids`` (vLLM answers so when the request has
   ``return_token_ids``, which is sent to servers whose ``/v1/models`` says ``owned_by: vllm``;
   ``selfgym serve`` answers so for transformers folders);
2. llama.cpp's own endpoints (``/apply-template`` renders the chat with the model's template,
   ``/tokenize`` tokenises it), used when the server has them (``selfgym serve`` on a GGUF,
   ``llama-server``, xllamacpp);
3. otherwise none: ``prompt_token_ids`` stays None and ``prompt_ids_source`` says ``"none"``.

The route is found on the first request and kept (``prompt_ids_source``).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

from selfgym.errors import BackendError
from selfgym.llm.base import Chat, Completion, SamplingParams


class OpenAIBackend:
    """Completes chats through an OpenAI-compatible ``/v1/chat/completions`` endpoint.

    Args:
        base_url: the server root, with or without ``/v1`` (``http://127.0.0.1:8000``).
        model: the model name to send; None asks the server's ``/v1/models`` for its first one.
        api_key: a bearer token; defaults to ``$OPENAI_API_KEY`` when set.
        concurrency: requests in flight at once (the server batches them).
        timeout: seconds to wait for one response.
        retries: extra attempts on connection errors and 5xx answers before BackendError.
        prompt_token_ids: fill ``Completion.prompt_token_ids`` where the server can say them
            (see the module docstring); False skips the extra work.
    """

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        api_key: str | None = None,
        concurrency: int = 16,
        timeout: float = 600.0,
        retries: int = 2,
        prompt_token_ids: bool = True,
    ):
        url = base_url.rstrip("/")
        self.root = url[: -len("/v1")] if url.endswith("/v1") else url
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.concurrency = max(1, int(concurrency))
        self.timeout = timeout
        self.retries = retries
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="selfgym-http")
        self.want_prompt_ids = bool(prompt_token_ids)
        self.prompt_ids_source: str | None = None  # "response", "llamacpp" or "none", once known
        self._route_lock = threading.Lock()
        self.server_kind: str | None = None  # the ``owned_by`` of the served model ("vllm", "llamacpp", ...)
        self.model = model or self._first_model()
        self.name = f"openai:{self.root}#{self.model}"
        self.calls = 0  # generate() calls so far (the rollout benchmark and tests read it)

    # ------------------------------------------------------------------ HTTP
    def _request(self, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode() if body is not None else None
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(self.root + path, data=data, headers=headers,
                                         method="POST" if data is not None else "GET")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return json.loads(resp.read())
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode("utf-8", "replace")[:500]
                if exc.code < 500:
                    raise BackendError(f"{self.root}{path} answered HTTP {exc.code}: {detail}") from exc
                last = BackendError(f"{self.root}{path} answered HTTP {exc.code}: {detail}")
            except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError) as exc:
                last = exc
            time.sleep(0.2 * (attempt + 1))
        raise BackendError(f"cannot reach the model server at {self.root}{path}: {last}") from last

    def _first_model(self) -> str:
        listing = self._request("/v1/models")
        data = [m for m in listing.get("data", []) if m.get("id")]
        if not data:
            raise BackendError(f"{self.root}/v1/models lists no model; pass model= explicitly")
        self.server_kind = data[0].get("owned_by")
        return data[0]["id"]

    # ------------------------------------------------------------------ generation
    def _body(self, chat: Chat, sampling: SamplingParams) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": list(chat),
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
            "n": sampling.n,
        }
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if sampling.logprobs or sampling.top_logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = max(1, sampling.top_logprobs)
        if self.want_prompt_ids and self.server_kind == "vllm":
            body["return_token_ids"] = True  # vLLM: prompt_token_ids (and token_ids) in the response
        return body

    def _detect_server(self) -> None:
        """Learn the server's kind (``owned_by`` in ``/v1/models``) once, when a model was named."""
        with self._route_lock:
            if self.server_kind is not None:
                return
            try:
                data = self._request("/v1/models").get("data") or []
                mine = [m for m in data if m.get("id") == self.model] or data
                self.server_kind = (mine[0].get("owned_by") if mine else None) or ""
            except BackendError:
                self.server_kind = ""  # no listing: an unknown server

    def _one(self, chat: Chat, sampling: SamplingParams) -> list[Completion]:
        if self.want_prompt_ids and self.server_kind is None:
            self._detect_server()
        resp = self._request("/v1/chat/completions", self._body(chat, sampling))
        choices = sorted(resp.get("choices") or [], key=lambda c: c.get("index", 0))
        if len(choices) != sampling.n:
            raise BackendError(f"asked {self.root} for {sampling.n} completion(s), got {len(choices)}")
        usage = resp.get("usage") or {}
        out = [self._completion(c, usage, sampling) for c in choices]
        prefill = chat[-1].get("content") if chat and chat[-1].get("role") == "assistant" else None
        for c in out:  # some servers echo a prefilled assistant turn; keep only the continuation
            if prefill and c.text.startswith(prefill):
                c.text = c.text[len(prefill):]
        if self.want_prompt_ids:
            ids = self._prompt_ids_for(chat, resp)
            for c in out:
                c.prompt_token_ids = ids
        return out

    # ------------------------------------------------------------------ prompt token ids
    def prompt_ids(self, chat: Chat) -> list[int]:
        """The token ids of ``chat`` rendered with the model's chat template (generation prompt
        included), through llama.cpp's ``/apply-template`` and ``/tokenize``."""
        text = self._request("/apply-template", {"messages": list(chat)})["prompt"]
        return list(self._request("/tokenize", {"content": text, "add_special": True, "parse_special": True})["tokens"])

    def _prompt_ids_for(self, chat: Chat, resp: dict[str, Any]) -> list[int] | None:
        ids = resp.get("prompt_token_ids")
        if isinstance(ids, list) and ids and all(isinstance(i, int) for i in ids):
            if self.prompt_ids_source is None:
                self.prompt_ids_source = "response"
            return list(ids)
        if self.prompt_ids_source is None:
            with self._route_lock:
                if self.prompt_ids_source is None:
                    try:
                        found = self.prompt_ids(chat)
                    except BackendError as exc:
                        # 4xx (no such endpoint, not allowed here) or 501: this server cannot say;
                        # anything else (5xx, unreachable) is a failure and is raised
                        if not re.search(r"answered HTTP (4\d\d|501)\b", str(exc)):
                            raise
                        self.prompt_ids_source = "none"
                        return None
                    self.prompt_ids_source = "llamacpp"
                    return found
        if self.prompt_ids_source == "llamacpp":
            return self.prompt_ids(chat)
        return None

    @staticmethod
    def _completion(choice: dict[str, Any], usage: dict[str, Any], sampling: SamplingParams) -> Completion:
        text = (choice.get("message") or {}).get("content") or ""
        entries = ((choice.get("logprobs") or {}).get("content")) or None
        token_ids = logprobs = top = None
        if entries is not None:
            logprobs = [float(e["logprob"]) for e in entries]
            ids = [_token_id(e) for e in entries]
            token_ids = ids if all(i is not None for i in ids) else None
            if sampling.top_logprobs:
                top = [{t["token"]: float(t["logprob"]) for t in e.get("top_logprobs", [])} for e in entries]
        direct = choice.get("token_ids")  # vLLM with return_token_ids
        if token_ids is None and isinstance(direct, list) and all(isinstance(i, int) for i in direct):
            token_ids = list(direct)
        finish = choice.get("finish_reason") or "stop"
        return Completion(
            text=text,
            token_ids=token_ids,
            logprobs=logprobs if sampling.logprobs else None,
            finish_reason="length" if finish == "length" else "stop",
            usage={k: int(v) for k, v in usage.items() if isinstance(v, int)},
            top_logprobs=top,
        )

    def generate(self, chats: Sequence[Chat], sampling: SamplingParams | None = None) -> list[Completion]:
        """Complete every chat (requests run concurrently); ``len(chats) * n`` results, chat-major."""
        sampling = sampling or SamplingParams()
        self.calls += 1
        results = list(self._pool.map(lambda c: self._one(c, sampling), chats))
        return [c for group in results for c in group]

    def close(self) -> None:
        """Stop the request threads."""
        self._pool.shutdown(wait=False)


def _token_id(entry: dict[str, Any]) -> int | None:
    """The token id of one logprobs entry: llama.cpp's ``id`` or vLLM's ``token_id:<n>`` token."""
    if isinstance(entry.get("id"), int):
        return entry["id"]
    tok = entry.get("token")
    if isinstance(tok, str) and tok.startswith("token_id:"):
        try:
            return int(tok.split(":", 1)[1])
        except ValueError:
            return None
    return None
