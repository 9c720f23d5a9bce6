"""ToolUse domains: each module holds typed tool functions, toolset() and task TEMPLATES.

A domain module defines NAME, DESCRIPTION, toolset() -> ToolSet (a fresh set of its
tools) and TEMPLATES: functions (rng, trace) -> (prompt, answer, answer_type) that solve
the task they pose by calling tools through trace (see selfgym.envs.tooluse.tasks), so
every generated task carries its oracle.
"""

from __future__ import annotations

from types import ModuleType

from selfgym.envs.tooluse.domains import cipher, dates, dna, shop, travel, units

DOMAINS: dict[str, ModuleType] = {m.NAME: m for m in (units, dates, travel, cipher, shop, dna)}
