"""LLMAgent: an LLM policy over any selfgym env, one batched model call per ``act_batch``.

``LLMAgent(backend)`` renders each env's observation and info into a chat with the family's
prompt template (``selfgym.agents.prompts``), sends all chats of a batch in one
``backend.generate`` call, and turns each completion into an action. The completions of the
last call stay on ``agent.last_completions`` (same order as the batch), so callers (the rollout
runner, self-play, trainers) keep their token ids and logprobs without re-tokenising.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

from selfgym.agent import Agent
from selfgym.agents.prompts import GenericTemplate, template_for
from selfgym.llm.base import Chat, Completion, LLMBackend, SamplingParams


class LLMAgent(Agent):
    """Acts with a language model.

    Args:
        backend: any ``LLMBackend`` (``selfgym.llm.make_backend("default")`` for the default model).
        sampling: sampling parameters (``n`` is forced to 1: one action per env).
        templates: per-family template overrides, ``{"arithmetic": MyTemplate()}``.
        template: one template for every env (overrides ``templates``).
        name: shown in run summaries.
    Attributes:
        last_chats / last_completions: the chats sent and completions received by the last call.
        calls: how many ``generate`` calls this agent made; generate_seconds: their total time.
    """

    name = "llm"

    def __init__(self, backend: LLMBackend, sampling: SamplingParams | None = None,
                 templates: dict[str, GenericTemplate] | None = None, template: GenericTemplate | None = None,
                 name: str | None = None):
        self.backend = backend
        self.sampling = dataclasses.replace(sampling or SamplingParams(), n=1)
        self.templates = templates or {}
        self.template = template
        if name:
            self.name = name
        self.last_chats: list[Chat] = []
        self.last_completions: list[Completion] = []
        self.calls = 0
        self.generate_seconds = 0.0

    def template_for(self, info: dict[str, Any]) -> GenericTemplate:
        """The template used for an env with this ``info``."""
        return self.template or template_for(info, self.templates)

    def memory_for(self, info: dict[str, Any]) -> str:
        """Extra system text for this env (subclasses add reflections here); empty by default."""
        return ""

    def build_chats(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]]) -> list[Chat]:
        """One chat per env, as it would be sent."""
        return [self.template_for(i).chat(o, i, self.memory_for(i)) for o, i in zip(observations, infos)]

    def act_batch(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]]) -> list[str]:
        """One ``generate`` call for the whole batch; returns one action per env."""
        if not observations:
            return []
        chats = self.build_chats(observations, infos)
        start = time.perf_counter()
        completions = self.backend.generate(chats, self.sampling)
        self.generate_seconds += time.perf_counter() - start
        self.calls += 1
        self.last_chats, self.last_completions = chats, completions
        return [self.template_for(i).extract(c.text, i) for c, i in zip(completions, infos)]

    def act(self, observation: Any, info: dict[str, Any]) -> str:
        return self.act_batch([observation], [info])[0]
