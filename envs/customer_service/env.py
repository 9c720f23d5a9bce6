"""``selfgym/CustomerService-{retail,airline}-v0``: the agent's seat, with the customer simulated inside.

Each ``step`` takes the agent's action (a tool call in any form the tool layer reads, or a reply
to the customer as plain text), then lets the customer seat answer whenever it is its turn, and
returns what the agent receives next: tool results or the customer's message. The episode ends
when the customer (or the agent) says ``###STOP###``, or after ``max_steps`` agent actions
(truncation). The reward, on the last step, is the tau-bench reward (see ``reward``).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from selfgym.actions import ActionSet
from selfgym.agent import Agent
from selfgym.envs.customer_service import tasks as task_lists
from selfgym.envs.customer_service.data import DOMAINS
from selfgym.envs.customer_service.dialogue import AGENT, AGENT_SYSTEM_PROMPT, USER, Conversation
from selfgym.envs.customer_service.oracle import oracle_actions
from selfgym.envs.customer_service.reward import new_domain
from selfgym.envs.customer_service.user import LLMUser, ScriptedUser
from selfgym.errors import ConfigError
from selfgym.spaces import CHARSET
from selfgym.textenv import Outcome, TextEnv
from selfgym.types import Task

_OUTSIDE_CHARSET = re.compile(f"[^{re.escape(CHARSET)}]")


def make_user(user: Any) -> Agent:
    """The customer seat's policy from ``"scripted"``, ``"llm"`` / ``"llm:<backend spec>"``, an LLMBackend or an Agent."""
    if user is None or user == "scripted":
        return ScriptedUser()
    if isinstance(user, Agent):
        return user
    if isinstance(user, str):
        if user == "llm":
            return LLMUser("default")
        if user.startswith("llm:"):
            return LLMUser(user[4:])
        raise ConfigError(f"user must be 'scripted', 'llm', 'llm:<backend spec>', an LLMBackend or an Agent; got {user!r}")
    if hasattr(user, "generate"):
        return LLMUser(user)
    raise ConfigError(f"user must be 'scripted', 'llm', 'llm:<backend spec>', an LLMBackend or an Agent; got {user!r}")


class CustomerServiceEnv(TextEnv):
    """A tau-bench style customer-service episode from the agent's seat.

    Args:
        domain: "retail" or "airline" (which tasks are drawn; ``reset(options={"task": ...})``
            takes a task of either domain).
        user: the customer: "scripted" (default), "llm", "llm:<backend spec>", an LLMBackend or an Agent.
        tasks: None (the tau2 data), a JSON-lines path, or a list of Tasks/dicts.
        split: tau2's "train" / "test" split, or None for all.
        include_no_change: also draw tasks a do-nothing policy passes (see ``reward.is_no_change``).
        max_steps: agent actions before truncation.
    Observation: text: first the policy, the tools and the customer's opening message; then tool
        results or the customer's replies.
    Action: a tool call (JSON object, OpenAI ``tool_calls`` or ``<tool_call>`` tags) or a reply.
    Reward: 1 on the last step when the final database equals the gold one and every required
        output was said to the customer, else 0.
    """

    family = "customer_service"
    system_prompt = AGENT_SYSTEM_PROMPT

    def __init__(self, domain: str = "retail", user: Any = "scripted", tasks: Any = None, split: str | None = None,
                 include_no_change: bool = False, max_steps: int = 30, **kwargs: Any):
        kwargs.setdefault("max_observation_length", 32768)
        kwargs.setdefault("max_action_length", 8192)
        super().__init__(**kwargs)
        if domain not in DOMAINS:
            raise ConfigError(f"domain must be one of {list(DOMAINS)}, got {domain!r}")
        if max_steps < 1:
            raise ConfigError(f"max_steps must be >= 1, got {max_steps!r}")
        self.domain = domain
        self.user = make_user(user)
        self.max_steps = int(max_steps)
        self.tasks = task_lists.task_list(domain, tasks, split, include_no_change)
        self.conversation: Conversation | None = None
        self._idle_tools = new_domain(domain)[1].schemas()
        self._actions: ActionSet | None = None

    def action_set(self) -> ActionSet:
        """The domain's tools plus ``reply`` (say something to the customer)."""
        if self._actions is None:
            self._actions = ActionSet.calls(new_domain(self.domain)[1], reply=True)
        return self._actions

    def task_set(self, n: int | None = None, seed: int = 0) -> list[Task]:
        """The env's task list (``n=None``), or ``n`` of its tasks in a seeded order."""
        return task_lists.sample(self.tasks, n, seed)

    def sample_task(self, rng: np.random.Generator) -> Task:
        return task_lists.pick(self.tasks, rng)

    def coerce_task(self, value: Any) -> Task:
        return task_lists.check_task(Task.coerce(value))

    def tools(self) -> list[dict[str, Any]]:
        return self.conversation.tools.schemas() if self.conversation else self._idle_tools

    def begin(self, task: Task) -> str:
        self.conversation = Conversation(task, self.max_steps)
        self._oracle: list[str] | None = None
        self.user.reset()
        self._run_user()
        return self.conversation.pending[AGENT] or "The customer has left."

    def act(self, action: str) -> Outcome:
        conv = self.conversation
        if not conv.done:
            conv.agent_turn(action)
            self._run_user()
        text = conv.pending[AGENT] if not conv.done else f"The conversation has ended ({conv.outcome})."
        info = {"outcome": conv.outcome} if conv.done else {}
        if conv.done:
            return Outcome(text, terminated=not conv.truncated, truncated=conv.truncated, verdict=conv.verdict,
                           action_error=conv.last_error[AGENT], info=info)
        return Outcome(text, reward=0.0, action_error=conv.last_error[AGENT], info=info)

    def _run_user(self) -> None:
        conv = self.conversation
        while not conv.done and conv.current == USER:
            conv.user_turn(self.user.act(conv.pending[USER], self.user_info()))

    def user_info(self) -> dict[str, Any]:
        """What the customer seat sees besides its observation (scenario and its own chat)."""
        conv = self.conversation
        return {"task_id": conv.task.id, "family": self.family, "scenario": dict(conv.task.payload["scenario"]),
                "messages": [dict(m) for m in conv.chats[USER]], "tools": [], "seat": USER,
                "difficulty": dict(conv.task.difficulty)}

    def cheat(self) -> str:
        """The oracle's next action (valid while the oracle's earlier actions were the ones taken)."""
        if self._oracle is None:
            self._oracle = oracle_actions(self.task)
        return self._oracle[min(self.conversation.steps, len(self._oracle) - 1)]

    def _observe(self, text: str) -> str:
        """As ``TextEnv._observe``, skipping the per-character normalisation when a regex finds
        nothing to change (most text here is long ASCII: the policy, tool results)."""
        if len(text) <= self.max_observation_length and not _OUTSIDE_CHARSET.search(text):
            self.messages.append({"role": "user", "content": text})
            self._last_obs = text
            return text
        return super()._observe(text)
