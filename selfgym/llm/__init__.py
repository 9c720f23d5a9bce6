"""LLM backends behind one interface (see ``selfgym.llm.base``).

Backends are imported only when chosen: ``get_backend("openai", ...)`` and friends live in
submodules so that ``import selfgym`` never loads torch or vLLM.
"""

from selfgym.llm.base import Chat, Completion, LLMBackend, SamplingParams

__all__ = ["Chat", "Completion", "LLMBackend", "SamplingParams"]
