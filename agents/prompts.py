"""Prompt templates for LLM agents: the generic machinery lives in ``selfgym.prompting``.

Families keep their own templates in their folders (``envs/<family>/prompting.py`` or similar)
and name them in ``info["prompt_template"]``; nothing here knows a family.
"""

from __future__ import annotations

from selfgym.prompting import Chat, GenericTemplate, template_for

__all__ = ["Chat", "GenericTemplate", "template_for"]
