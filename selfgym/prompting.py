"""Prompt templates: how an LLM agent turns (observation, info) into a chat, and text into an action.

A template sees only what an env returns: the observation and ``info`` (``messages``, ``tools``,
``family``, ``task_id``, ``prompt_template``). ``GenericTemplate`` works for any env that follows
the info contract (and for envs that do not, from the observation alone). A family that wants
more (a worked example, its own answer key, its own action syntax) subclasses it in its own
folder and names the class in ``info["prompt_template"]`` (``"module:Class"``; a TextEnv sets
its ``prompt_template`` attribute): agents then pick it up without knowing the family.

Each template also defines ``answer_key(text)``: the canonical form of an answer, used where
answers are compared rather than executed (majority votes, confidence, reflection).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from selfgym.actions import ActionSet

Chat = list[dict[str, Any]]


def _obs_text(observation: Any) -> str:
    if isinstance(observation, dict):
        return str(observation.get("text", observation))
    return str(observation)


class GenericTemplate:
    """Any env: its own messages (system prompt, dialogue so far), plus tool syntax when it has tools.

    Args:
        system_prompt: used when the env's messages carry none.
        max_chars: budget for the dialogue; the oldest turns after the first user message are
            dropped first (small models have small contexts).
    """

    family: str | None = None
    system_prompt = "You are a careful agent. Read the task and reply with exactly the action it asks for."

    def __init__(self, system_prompt: str | None = None, max_chars: int = 6000):
        if system_prompt is not None:
            self.system_prompt = system_prompt
        self.max_chars = max_chars

    # ------------------------------------------------------------------ prompt
    def extra_system(self, info: dict[str, Any]) -> str:
        """Text appended to the system message: the env's tools and their call syntax, rendered
        by ``selfgym.actions`` from ``info["tools"]``, unless the env's own messages already
        describe every tool (then each tool would be listed twice)."""
        tools = info.get("tools") or []
        if not tools:
            return ""
        names = [str(t.get("function", t).get("name")) for t in tools]
        shown = "\n".join(str(m.get("content") or "") for m in (info.get("messages") or [])[:2])
        if all(re.search(rf"\b{re.escape(n)}\b", shown) for n in names):
            return ""
        return ActionSet.from_schemas(tools).instructions()

    def chat(self, observation: Any, info: dict[str, Any], memory: str = "") -> Chat:
        """The chat to send: system (env's or ours, plus extras and memory), then the dialogue."""
        messages = [dict(m) for m in (info.get("messages") or []) if m.get("content") is not None]
        if not messages:
            messages = [{"role": "user", "content": _obs_text(observation)}]
        system = [m for m in messages if m["role"] == "system"]
        dialogue = [m for m in messages if m["role"] != "system"]
        parts = [system[0]["content"] if system else self.system_prompt, self.extra_system(info), memory]
        head = {"role": "system", "content": "\n\n".join(p for p in parts if p)}
        return [head] + self._fit(dialogue)

    def _fit(self, dialogue: Chat) -> Chat:
        """Keep the first user turn and as many of the latest turns as fit ``max_chars``."""
        if sum(len(str(m["content"])) for m in dialogue) <= self.max_chars or len(dialogue) <= 2:
            return dialogue
        first, rest = dialogue[0], dialogue[1:]
        kept: Chat = []
        budget = self.max_chars - len(str(first["content"]))
        for m in reversed(rest):
            budget -= len(str(m["content"]))
            if budget < 0 and kept:
                break
            kept.append(m)
        kept.reverse()
        if kept and kept[0]["role"] == "assistant":  # keep user/assistant alternation
            kept = kept[1:] or kept
        return [first] + kept

    # ------------------------------------------------------------------ action
    def extract(self, text: str, info: dict[str, Any]) -> str:
        """The action to send: the completion, trimmed of whitespace and a role prefix."""
        text = text.strip()
        return re.sub(r"^(assistant|answer)\s*:\s*", "", text, flags=re.I) if len(text) < 40 else text

    def answer_key(self, text: str) -> str | None:
        """Canonical answer: a final-answer tag or line if present, else the last non-empty line."""
        m = re.search(r"<final_answer>(.*?)</final_answer>", text, re.S | re.I)
        if m:
            return _norm(m.group(1))
        m = re.search(r"final answer\s*[:\-]\s*(.+)", text, re.I)
        if m:
            return _norm(m.group(1))
        for obj in _json_objects(text):
            if isinstance(obj, dict) and obj.get("name") == "final_answer":
                return _norm(json.dumps((obj.get("arguments") or {}).get("answer"), sort_keys=True))
        lines = [ln for ln in text.strip().splitlines() if ln.strip()]
        return _norm(lines[-1]) if lines else None


def template_for(info: dict[str, Any], overrides: dict[str, GenericTemplate] | None = None) -> GenericTemplate:
    """The template for an env's ``info``: ``overrides[info["family"]]`` first, then the class the
    env names in ``info["prompt_template"]`` (``"module:Class"``), else ``GenericTemplate``."""
    family = info.get("family")
    if overrides and family in overrides:
        return overrides[family]
    if info.get("prompt_template"):  # the env names its own template, "module:Class"
        return _named_template(info["prompt_template"])()
    return GenericTemplate()


@functools.lru_cache(maxsize=64)
def _named_template(spec: str) -> type[GenericTemplate]:
    import importlib

    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().strip(".").strip().lower())


def _json_objects(text: str) -> list[Any]:
    out = []
    for m in re.finditer(r"\{.*\}", text, re.S):
        try:
            out.append(json.loads(m.group(0)))
        except json.JSONDecodeError:
            pass
    return out
