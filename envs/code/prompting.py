"""The LLM prompt for code tasks: one fenced Python block; the normalised code as the answer key.

Named by the code envs' ``prompt_template``; agents find it through ``info["prompt_template"]``.
"""

from __future__ import annotations

import re

from selfgym.prompting import GenericTemplate


class CodeTemplate(GenericTemplate):
    """Code tasks: one fenced Python block holding the whole solution."""

    family = "code"
    system_prompt = ("You write correct, complete Python. "
                     "Reply with one ```python code block holding the whole solution.")

    def answer_key(self, text: str) -> str | None:
        m = re.findall(r"```(?:python)?\n(.*?)```", text, re.S)
        code = m[-1] if m else text
        return "\n".join(ln.rstrip() for ln in code.strip().splitlines() if ln.strip()) or None
