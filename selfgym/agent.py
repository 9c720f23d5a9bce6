"""The agent contract: observations and info in, action strings out.

Agents see only what an env returns (observation and info, including ``info["messages"]`` and
``info["tools"]``); they never reach into an env's internals. ``act_batch`` exists so one LLM
call can serve many envs at once; the default loops over ``act``.
"""

from __future__ import annotations

from typing import Any, Sequence


class Agent:
    """Base class for every agent (scripted, LLM, reflective, self-challenging)."""

    name: str = "agent"

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
