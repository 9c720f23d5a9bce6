"""The agent contract: observations and info in, action strings out.

Agents see only what an env returns (observation and info, including ``info["messages"]`` and
``info["tools"]``); they never reach into an env's internals. ``act_batch`` exists so one LLM
call can serve many envs at once; the default loops over ``act``.

``AgentProtocol`` is the whole contract as a runtime-checkable Protocol, optional hooks
included: any object with these members is an agent (``Agent`` is a convenient base class).
Runners read ``last_completions`` (and ``last_chats``) after each ``act_batch`` to keep token
ids per step; an agent that does not wrap a model leaves them empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class AgentProtocol(Protocol):
    """What every agent offers (``Agent`` implements all of it)."""

    name: str
    last_chats: list[Any]
    """The chats sent by the last ``act_batch`` (one per env; empty when no model is called)."""
    last_completions: list[Any]
    """The completions of the last ``act_batch`` (``selfgym.llm.Completion``, same order)."""

    def act(self, observation: Any, info: dict[str, Any]) -> str: ...

    def act_batch(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]]) -> list[str]: ...

    def reset(self) -> None: ...

    def observe_result(self, info: dict[str, Any], reward: float, done: bool) -> None: ...


class Agent:
    """Base class for every agent (scripted, LLM, reflective, self-challenging)."""

    name: str = "agent"
    last_chats: list[Any] = []  # class-level empty defaults; model agents set their own lists
    last_completions: list[Any] = []

    def act(self, observation: Any, info: dict[str, Any]) -> str:
        """Return the action for one env."""
        return self.act_batch([observation], [info])[0]

    def act_batch(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]]) -> list[str]:
        """Return one action per env; override to batch model calls."""
        if type(self).act is Agent.act:
            raise TypeError(f"{type(self).__name__} must override act or act_batch")
        return [self.act(o, i) for o, i in zip(observations, infos)]

    def reset(self) -> None:
        """Forget per-episode state (called between episodes)."""

    def observe_result(self, info: dict[str, Any], reward: float, done: bool) -> None:
        """Hook: told what the last action earned (reflective agents learn here)."""
