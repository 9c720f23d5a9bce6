"""The LLM backend contract.

``LLMBackend.generate(chats, sampling)`` takes a batch of chat conversations (OpenAI message
format: lists of ``{"role": ..., "content": ...}``) and returns one ``Completion`` per chat (or
``sampling.n`` per chat, flattened chat-major). Completions carry the text, the generated token
ids and their log-probabilities where the backend gives them, and the finish reason, so
trajectories carry token ids into training and nobody re-tokenises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence, runtime_checkable

Chat = list[dict[str, Any]]


@dataclass
class SamplingParams:
    """How to sample. Defaults suit short agent turns."""

    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 256
    n: int = 1
    stop: list[str] | None = None
    seed: int | None = None
    logprobs: bool = True
    top_logprobs: int = 0
    """Also return the ``top_logprobs`` most likely tokens per position (0: none)."""


@dataclass
class Completion:
    """One generated answer.

    ``token_ids`` / ``logprobs`` are the generated tokens and their log-probabilities under the
    sampling distribution (None where a backend cannot say); ``prompt_token_ids`` likewise for
    the rendered prompt. ``finish_reason`` is "stop" or "length".  ``top_logprobs`` (when asked
    for) maps each position's likeliest token texts to their log-probabilities.
    """

    text: str
    token_ids: list[int] | None = None
    logprobs: list[float] | None = None
    finish_reason: str = "stop"
    prompt_token_ids: list[int] | None = None
    usage: dict[str, int] = field(default_factory=dict)
    top_logprobs: list[dict[str, float]] | None = None
    """Per position, the most likely tokens (text -> logprob), when ``SamplingParams.top_logprobs``."""


@runtime_checkable
class LLMBackend(Protocol):
    """Anything that can complete a batch of chats."""

    name: str

    def generate(self, chats: Sequence[Chat], sampling: SamplingParams | None = None) -> list[Completion]:
        """Complete every chat; returns ``len(chats) * sampling.n`` completions, chat-major."""
        ...
