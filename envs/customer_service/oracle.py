"""The oracle: a task's gold actions as agent actions, then a reply that says every required output.

Replayed in an episode (``CustomerServiceEnv.cheat`` gives them one by one), the oracle reaches
reward 1 on every task: its tool calls make the gold database, and its last reply holds the
outputs and offers more help, to which the scripted user answers with ``STOP``.
"""

from __future__ import annotations

from selfgym.tools import ToolCall
from selfgym.types import Task

CLOSING = "Is there anything else I can help you with?"


def oracle_actions(task: Task) -> list[str]:
    """The agent actions of the oracle for ``task``, in order."""
    calls = [ToolCall(a["name"], a["arguments"]).to_json() for a in task.payload["actions"]]
    outputs = task.payload["outputs"]
    said = f"Here is what you asked for: {', '.join(outputs)}. " if outputs else "Your request has been handled. "
    return calls + [said + CLOSING]
