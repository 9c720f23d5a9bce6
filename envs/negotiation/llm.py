"""How an LLM policy reads and writes Deal or No Deal, per rule set.

``template(rules)`` is the prompt template an ``LLMAgent`` should use for the negotiation family:

- ``"lm-selfplay"`` (``ExactTemplate``): the prompt is the seat's whole chat exactly as the env
  keeps it (briefing, every message, rejected outputs and their errors; nothing dropped, nothing
  added), and the action is the model's raw text: the env applies lm-selfplay's post-processing
  (``[END]`` cut, first line of a proposal) and its strict prefix rules, so an output without a
  ``[message]``/``[propose]`` prefix is rejected and retried, and five in a row abort the game.
- ``"selfgym"`` (``LenientTemplate``): selfgym's earlier, forgiving reading: a reply without a
  tag becomes a message (its first line), a tag found inside the text starts the action, and the
  oldest turns are dropped past ``max_chars`` characters.

    from selfgym.agents.llm import LLMAgent
    from selfgym.envs.negotiation.llm import templates
    agent = LLMAgent(backend, templates=templates("lm-selfplay"))
"""

from __future__ import annotations

import re
from typing import Any

from selfgym.envs.negotiation.rules import check_rules
from selfgym.prompting import GenericTemplate

_TAG = re.compile(r"\[(message|propose|accept|reject)\]", re.I)


class ExactTemplate(GenericTemplate):
    """lm-selfplay: the whole chat as the prompt, the raw completion as the action."""

    family = "negotiation"

    def __init__(self):
        super().__init__(max_chars=0)

    def chat(self, observation: Any, info: dict[str, Any], memory: str = "") -> list[dict[str, Any]]:
        messages = [dict(m) for m in (info.get("messages") or [])]
        if not messages:
            raise ValueError("a negotiation prompt needs info['messages'] (the seat's chat)")
        if memory:
            messages[0] = {**messages[0], "content": f"{messages[0]['content']}\n\n{memory}"}
        return messages

    def extract(self, text: str, info: dict[str, Any]) -> str:
        return text


class LenientTemplate(GenericTemplate):
    """selfgym's earlier reading: one short message, or a proposal in the syntax the prompt gives."""

    family = "negotiation"
    system_prompt = ("You negotiate how to split items with a partner. Keep messages short. "
                     "Follow the action format in the instructions exactly.")

    def extract(self, text: str, info: dict[str, Any]) -> str:
        """The reply as an action: a ``[message]`` unless it already is a ``[...]`` command."""
        text = text.strip()
        m = _TAG.search(text)
        if m:
            return text[m.start():]
        return "[message] " + (text.splitlines()[0] if text else "Hello.")


def template(rules: str = "selfgym") -> GenericTemplate:
    """The negotiation template for a rule set."""
    return ExactTemplate() if check_rules(rules) == "lm-selfplay" else LenientTemplate()


def templates(rules: str = "selfgym") -> dict[str, GenericTemplate]:
    """``LLMAgent(templates=...)`` overrides for the negotiation family under ``rules``."""
    return {"negotiation": template(rules)}
