"""One customer-service conversation: the rules of turns, shared by the AEC env and the Gym view.

Two seats, ``"user"`` and ``"agent"``. The agent's greeting opens; the user speaks first. On its
turn the agent either calls tools (the results come back to it, and it moves again) or replies to
the user (the user moves next). Either seat ends the conversation by saying ``STOP``
(``###STOP###``); ``max_steps`` agent actions end it by truncation. The verdict (``reward``) is
computed once, at the end, from the final database and the agent's replies.

Each seat has its own chat (OpenAI format): the agent's opens with a system prompt and a briefing
(the policy, the tools and how to call them); the user's system prompt holds the scenario. A seat's
``pending`` text is what it received since its last move: its observation.
"""

from __future__ import annotations

from typing import Any

from selfgym.envs.customer_service.data import load_policy
from selfgym.envs.customer_service.reward import evaluate, new_domain
from selfgym.envs.customer_service.user import GREETING, STOP, user_system_prompt
from selfgym.quoting import inline, labelled
from selfgym.tools import FinalAnswer, ParseError, Reply, ToolCall
from selfgym.types import Task, Verdict

AGENT, USER = "agent", "user"
# Tool results and the customer's words reach the agent through ``selfgym.quoting.labelled``: one
# line stays on the label's line; anything spanning lines is a quoted block ("| " before each
# line), so neither can pass for a line of the env's own.
RESULT_CHARS = 16_000
MESSAGE_CHARS = 4_000
SEATS = (AGENT, USER)
AGENT_SYSTEM_PROMPT = ("You are a customer-service agent. Follow the policy exactly, use the tools to read and "
                       "change the database, and speak to the customer in plain text.")


def briefing(domain: str, tools_text: str) -> str:
    """The first text the agent reads: policy, tools and the call syntax."""
    return (f"{load_policy(domain)}\n\n{tools_text}\n\nMake one tool call per turn, or reply to the customer "
            f"with plain text. Say {STOP} to end the conversation.\n")


_INSTRUCTIONS: dict[str, str] = {}


def _instructions(domain: str, tools) -> str:
    if domain not in _INSTRUCTIONS:
        _INSTRUCTIONS[domain] = tools.instructions(final=False, reply=True)
    return _INSTRUCTIONS[domain]


class Conversation:
    """The state and rules of one conversation (see the module docstring).

    Attributes:
        task: the task; ``domain`` and ``tools``: the domain object and its ToolSet.
        current: the seat to move; ``done`` / ``outcome`` ("user_stop", "agent_stop", "max_steps").
        pending: per seat, the text it received since it last moved.
        chats: per seat, its whole chat; ``replies``: every reply the agent sent the user.
        last_error: per seat, the error of its last action (agent only: unreadable calls, failed tools).
        steps: agent actions so far; ``verdict``: set when done.
    """

    def __init__(self, task: Task, max_steps: int = 30):
        self.task = task
        self.max_steps = int(max_steps)
        self.domain, self.tools = new_domain(task.payload["domain"])
        self.tools_text = _instructions(task.payload["domain"], self.tools)
        self.current = USER
        self.done = False
        self.outcome: str | None = None
        self.steps = 0
        self.replies: list[str] = []
        self.last_error: dict[str, str | None] = {AGENT: None, USER: None}
        self.verdict: Verdict | None = None
        self.tool_calls: list[dict[str, Any]] = []
        self.chats: dict[str, list[dict[str, Any]]] = {
            AGENT: [{"role": "system", "content": AGENT_SYSTEM_PROMPT}],
            USER: [{"role": "system", "content": user_system_prompt(task.payload["scenario"])}],
        }
        self.pending: dict[str, str] = {AGENT: "", USER: ""}
        self._briefed = False
        self._deliver(USER, GREETING)

    # ------------------------------------------------------------------ moves
    def play(self, text: str) -> None:
        """Apply the current seat's action (any string)."""
        if self.done:
            return
        if self.current == USER:
            self.user_turn(text)
        else:
            self.agent_turn(text)

    def user_turn(self, text: str) -> None:
        """The customer speaks; ``STOP`` in the text ends the conversation."""
        self.chats[USER].append({"role": "assistant", "content": text})
        self.pending[USER] = ""
        message = text.replace(STOP, "").strip()
        if STOP in text:
            self._finish("user_stop")
            return
        head = ""
        if not self._briefed:
            head, self._briefed = briefing(self.task.payload["domain"], self.tools_text) + "\n", True
        self._deliver(AGENT, head + labelled("Customer:", message, MESSAGE_CHARS, one_line=MESSAGE_CHARS))
        self.current = AGENT

    def agent_turn(self, text: str) -> None:
        """The agent calls tools or replies; errors come back to it as observations."""
        self.chats[AGENT].append({"role": "assistant", "content": text})
        self.pending[AGENT] = ""
        self.last_error[AGENT] = None
        self.steps += 1
        actions = self.tools.parse(text)
        calls = [a for a in actions if isinstance(a, ToolCall)]
        problems = [a.message for a in actions if isinstance(a, ParseError)]
        if problems:
            self.last_error[AGENT] = problems[0]
            self._deliver(AGENT, f"Error: {inline(problems[0], 600)}")
        elif calls:
            results, errors = [], []
            for call in calls:
                result = self.tools.execute(call)
                self.tool_calls.append({"name": call.name, "arguments": call.arguments, "ok": result.ok})
                results.append(labelled(f"Tool {inline(call.name, 80)} returned:", result.content, RESULT_CHARS,
                                        one_line=RESULT_CHARS))
                if not result.ok:
                    errors.append(result.error)
            self.last_error[AGENT] = errors[0] if errors else None
            self._deliver(AGENT, "\n".join(results))
        else:
            action = actions[0]
            content = action.content if isinstance(action, Reply) else action.text if isinstance(action, FinalAnswer) else text
            self.replies.append(content)
            if STOP in content:
                self._finish("agent_stop")
                return
            self._deliver(USER, content)
            self.current = USER
        if not self.done and self.steps >= self.max_steps:
            self._finish("max_steps")

    # ------------------------------------------------------------------ helpers
    def _deliver(self, seat: str, text: str) -> None:
        self.pending[seat] = f"{self.pending[seat]}\n{text}" if self.pending[seat] else text
        self.chats[seat].append({"role": "user", "content": text})

    def _finish(self, outcome: str) -> None:
        self.done = True
        self.outcome = outcome
        self.verdict = evaluate(self.task, self.domain.db, self.replies)

    @property
    def truncated(self) -> bool:
        return self.outcome == "max_steps"

    def transcript(self) -> str:
        """The agent's chat as text (what ``render`` shows)."""
        return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in self.chats[AGENT][1:])
