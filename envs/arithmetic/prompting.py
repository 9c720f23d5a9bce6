"""The LLM prompt for arithmetic: a worked example, and the last integer as the answer key.

Named by ``ArithmeticEnv.prompt_template``; agents find it through ``info["prompt_template"]``.
"""

from __future__ import annotations

import re
from typing import Any

from selfgym.prompting import GenericTemplate


class ArithmeticTemplate(GenericTemplate):
    """Arithmetic: short working, then the integer alone on the last line."""

    family = "arithmetic"
    system_prompt = ("You solve arithmetic problems. "
                     "Think briefly, then write the integer answer alone on the last line.")

    def extra_system(self, info: dict[str, Any]) -> str:
        return "Example:\nCompute 3 + 4 * 2.\n4 * 2 = 8, 3 + 8 = 11\n11"

    def answer_key(self, text: str) -> str | None:
        found = re.findall(r"-?\d[\d,]*", text)
        return found[-1].replace(",", "") if found else None
