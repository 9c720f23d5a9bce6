"""``selfgym/ToolUse-v0``: multi-domain tool-use tasks with an exact-answer check and a turn limit."""

from __future__ import annotations

from typing import Any

import numpy as np

from selfgym.actions import ActionSet
from selfgym.errors import BackendError, ConfigError, TaskError, VerifierError
from selfgym.envs.tooluse import tasks as rules
from selfgym.envs.tooluse.domains import DOMAINS
from selfgym.quoting import inline, labelled
from selfgym.textenv import Outcome, TextEnv
from selfgym.tools import FinalAnswer, ParseError, Reply, ToolCall, ToolSet
from selfgym.types import Task, Verdict, load_tasks

SYSTEM_PROMPT = (
    "You solve tasks by calling tools. Each turn, either call one or more tools or give your final answer. "
    "Tool results come back as the next message. Use the tools for every lookup and calculation they offer."
)


RESULT_CHARS = 4000  # a tool result shown to the agent is cut here (quoted when it spans lines)


class ToolUseEnv(TextEnv):
    """Multi-domain tool use in the spirit of M3ToolEval: call typed tools, then answer exactly.

    Args:
        domains: restrict sampled tasks to these domains (default: all of ``DOMAINS``).
        max_turns: actions allowed per episode (default 10); running out truncates the episode
            with reward 0.
        tasks: the task pool: None for the shipped list, a path to a JSON-lines file, or a list
            of Tasks/dicts.
        generated: draw a fresh generated task (``rules.generate``) on each reset instead of
            sampling the pool.

    Observation: the task, the tool descriptions and the call syntax; then, each turn, every
    call's result (``[tool] result`` or ``[tool] Error: ...``).
    Action: text holding tool calls or a final answer (syntax: ``selfgym.tools``).
    Reward: 1 when the final answer matches exactly (``rules.answers_match``), else 0; given on
    the terminal step. ``info["tools"]`` holds the domain's OpenAI function schemas,
    ``info["tool_results"]`` the results of this step's calls, ``info["turn"]`` the turn count.
    """

    family = rules.FAMILY
    system_prompt = SYSTEM_PROMPT

    def __init__(self, domains: list[str] | None = None, max_turns: int = 10,
                 tasks: str | list[Any] | None = None, generated: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        unknown = sorted(set(domains or ()) - set(DOMAINS))
        if unknown:
            raise ConfigError(f"unknown domain(s) {unknown}; choose from {sorted(DOMAINS)}")
        if int(max_turns) < 1:
            raise ConfigError(f"max_turns must be >= 1, got {max_turns!r}")
        self.domains = list(domains) if domains else sorted(DOMAINS)
        self.max_turns = int(max_turns)
        self.generated = bool(generated)
        if tasks is None:
            pool = rules.builtin_tasks()
        elif isinstance(tasks, str):
            pool = [rules.validate(t) for t in load_tasks(tasks)]
        else:
            pool = [rules.validate(Task.coerce(t)) for t in tasks]
        self.pool = [t for t in pool if t.payload["domain"] in self.domains]
        if not self.pool and not self.generated:
            raise ConfigError(f"no task left for domains {self.domains}")
        self.toolset: ToolSet | None = None
        self._toolsets: dict[str, ToolSet] = {}  # the domains are stateless: build each set once
        self._actions: ActionSet | None = None
        self.turn = 0

    def _toolset(self, domain: str) -> ToolSet:
        if domain not in self._toolsets:
            self._toolsets[domain] = DOMAINS[domain].toolset()
        return self._toolsets[domain]

    def action_set(self) -> ActionSet:
        """Every tool of this env's domains (each once) plus ``final_answer``.

        An episode's task uses one domain: ``info["tools"]`` and the first observation list
        that domain's tools; a call to another domain's tool is an error observation."""
        if self._actions is None:
            self._actions = ActionSet.calls([self._toolset(d) for d in self.domains], final=True)
        return self._actions

    # ------------------------------------------------------------------ task sets
    def task_set(self, n: int | None = None, seed: int = 0) -> list[Task]:
        """The env's task pool (``n`` None), or ``n`` generated tasks from ``seed``."""
        if n is None:
            return list(self.pool)
        return rules.generate(int(n), seed=seed, domains=self.domains)

    def sample_task(self, rng: np.random.Generator) -> Task:
        if self.generated:
            return rules.generate(1, seed=int(rng.integers(2**31)), domains=self.domains)[0]
        return self.pool[int(rng.integers(len(self.pool)))]

    def coerce_task(self, value: Any) -> Task:
        """A Task, its dict, or the id of a task in the pool."""
        if isinstance(value, str):
            for t in self.pool:
                if t.id == value:
                    return t
            raise TaskError(f"no ToolUse task with id {value!r} in this env's pool")
        return rules.validate(Task.coerce(value))

    # ------------------------------------------------------------------ episode
    def begin(self, task: Task) -> str:
        rules.validate(task)
        self.toolset = self._toolset(task.payload["domain"])
        self.turn = 0
        actions = ActionSet.calls(self.toolset, final=True)
        return f"{task.prompt}\n\n{actions.instructions()}\n\nYou have {self.max_turns} turns."

    def tools(self) -> list[dict[str, Any]]:
        return self.toolset.schemas() if self.toolset is not None else []

    def act(self, action: str) -> Outcome:
        self.turn += 1
        actions = self.toolset.parse(action)
        lines, results, errors = [], [], []
        final: FinalAnswer | None = None
        for a in actions:
            if isinstance(a, ToolCall):
                try:
                    r = self.toolset.execute(a)
                except (VerifierError, BackendError) as exc:  # our failure, not the agent's: never a 0
                    return Outcome(f"[{inline(a.name, 80)}] infrastructure error: {inline(exc, 300)}", terminated=True,
                                   verdict=Verdict.infra_error(f"tool {a.name!r}: {exc}"))
                results.append(r.to_dict())
                lines.append(labelled(f"[{inline(a.name, 80)}]", r.content, RESULT_CHARS, one_line=RESULT_CHARS))
                if not r.ok:
                    errors.append(r.error)
            elif isinstance(a, FinalAnswer):
                final = a
                break
            elif isinstance(a, ParseError):
                errors.append(a.message)
                lines.append(f"Error: {inline(a.message, 600)}")
            elif isinstance(a, Reply):
                msg = ("no tool call or final answer found; call a tool with "
                       '{"name": "tool_name", "arguments": {...}} or answer with '
                       '{"name": "final_answer", "arguments": {"answer": ...}}')
                errors.append(msg)
                lines.append(f"Error: {msg}")
        info = {"tool_results": results, "turn": self.turn, "turns_left": self.max_turns - self.turn}
        error = "; ".join(e for e in errors if e) or None
        if final is not None:
            verdict = rules.check(self.task, final.value)
            lines.append("Correct." if verdict.passed else f"Incorrect. The expected answer was {self.task.payload['answer']}.")
            return Outcome("\n".join(lines), terminated=True, verdict=verdict, action_error=error, info=info)
        if self.turn >= self.max_turns:
            lines.append(f"Turn limit reached ({self.max_turns}) without a final answer.")
            return Outcome("\n".join(lines), truncated=True, verdict=rules.timeout_verdict(self.max_turns),
                           action_error=error, info=info)
        lines.append(f"({self.max_turns - self.turn} turn(s) left)")
        return Outcome("\n".join(lines), reward=0.0, action_error=error, info=info)

    def cheat(self) -> str:
        """The oracle's next action (valid while the earlier actions were the oracle's ones).

        The oracle makes one call per turn and answers last; ``oracle()`` gives the whole list.
        """
        actions = self.oracle()
        return actions[min(self.turn, len(actions) - 1)]

    def oracle(self) -> list[str]:
        """The oracle for the current task: one action string per turn, the final answer last."""
        return rules.oracle_actions(self.task)
