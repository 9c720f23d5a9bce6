"""selfgym envs for TRL's ``GRPOTrainer(environment_factory=...)`` (multi-turn training).

TRL builds one instance per rollout, calls ``reset(**row)`` (the dataset row's columns as
keyword arguments; its string return is appended to the prompt), exposes the instance's public
methods as tools the model calls, and reads ``get_reward()`` once the rollout ends.

Each class below wraps one selfgym family: its public methods are exactly that env's actions,
typed and documented so TRL can turn them into tool schemas, and each method returns the env's
next observation. ``get_reward`` returns the episode's summed reward, or NaN when verification
hit an infrastructure error (TRL leaves NaN-scored rollouts out of the group baseline and gives
them no advantage): an infrastructure error is never a 0.

Rows may carry ``task`` (a Task as JSON, as ``task_dataset`` writes it) and ``seed``. Extra env
options go to the constructor: ``functools.partial(CodeTaskEnvironment, max_attempts=3)``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import gymnasium as gym

import selfgym  # noqa: F401  (registers the ids)

OVER = "The episode is over; no further actions are accepted."


class SelfgymEnvironment:
    """Base adapter: one selfgym env, its episode reward, and a private ``_act``.

    Subclasses set ``env_id`` and add public, typed, documented methods that call ``_act``.
    """

    env_id: str = ""

    def __init__(self, env_id: str | None = None, **env_kwargs: Any):
        self.env_id = env_id or self.env_id
        try:
            self._env = gym.make(self.env_id, on_infra_error="mask", **env_kwargs)
        except TypeError:
            self._env = gym.make(self.env_id, **env_kwargs)
        self._reward = 0.0
        self._valid = True
        self._done = False
        self.last_info: dict[str, Any] = {}

    def reset(self, task: Any = None, seed: int | None = None, **row: Any) -> str:
        """Start an episode on the row's task (or a seeded one); returns the first observation."""
        options = None
        if task is not None:
            options = {"task": json.loads(task) if isinstance(task, str) else task}
        obs, info = self._env.reset(seed=seed, options=options)
        self._reward, self._valid, self._done = 0.0, True, False
        self.last_info = info
        return self._text(obs)

    def get_reward(self) -> float:
        """The episode's summed reward, or NaN when an infrastructure error masked it."""
        return self._reward if self._valid else math.nan

    def _act(self, action: str) -> str:
        if self._done:
            return OVER
        obs, reward, terminated, truncated, info = self._env.step(action)
        self.last_info = info
        if info.get("reward_valid") is False or (isinstance(reward, float) and math.isnan(reward)):
            self._valid = False
        else:
            self._reward += float(reward)
        self._done = bool(terminated or truncated)
        text = self._text(obs)
        return text + ("\n[episode over]" if self._done else "")

    @staticmethod
    def _text(obs: Any) -> str:
        return obs["text"] if isinstance(obs, dict) else str(obs)

    def _close(self) -> None:
        """Close the wrapped env (private: every public method becomes a tool in TRL)."""
        self._env.close()


class CodeTaskEnvironment(SelfgymEnvironment):
    """CodeTask-v0: submit code, read the verifier's feedback, retry while attempts remain.

    Reward shaping comes from the env's ``reward_mode`` option (``"binary"``, ``"fraction"``,
    ``"cocos"``, ``"score"``), e.g. ``partial(CodeTaskEnvironment, reward_mode="cocos")``.
    """

    env_id = "selfgym/CodeTask-v0"

    def submit_solution(self, code: str) -> str:
        """Submit a complete Python solution for the task; the hidden checks run on it.

        Args:
            code: the full Python source defining the requested function.

        Returns:
            The verifier's feedback: which checks failed and why, or that all passed.
        """
        return self._act(f"```python\n{code}\n```")


class _ToolCallingEnvironment(SelfgymEnvironment):
    """Shared by families whose actions are calls to the task's typed tools."""

    def call_tool(self, name: str, arguments: dict) -> str:
        """Call one of the tools listed in the task description.

        Args:
            name: the tool's name.
            arguments: the tool's arguments as a JSON object.

        Returns:
            The tool's result, or an error message.
        """
        return self._act(json.dumps({"name": name, "arguments": arguments}))


class ToolUseEnvironment(_ToolCallingEnvironment):
    """ToolUse-v0: call the task's tools, then give the final answer."""

    env_id = "selfgym/ToolUse-v0"

    def final_answer(self, answer: str) -> str:
        """Give the final answer to the task; this ends the episode.

        Args:
            answer: the answer, exactly as the task asks for it.

        Returns:
            Whether the answer was right.
        """
        return self._act(json.dumps({"name": "final_answer", "arguments": {"answer": answer}}))


class CustomerServiceEnvironment(_ToolCallingEnvironment):
    """CustomerService-<domain>-v0: use the domain's tools and talk to the simulated user."""

    env_id = "selfgym/CustomerService-retail-v0"

    def reply(self, message: str) -> str:
        """Say something to the customer.

        Args:
            message: what to tell the customer.

        Returns:
            The customer's answer.
        """
        return self._act(json.dumps({"name": "reply", "arguments": {"content": message}}))


class WebEnvironment(SelfgymEnvironment):
    """Web-<task>-v0 and MiniWoB-<task>-v0: act on the page by element id."""

    env_id = "selfgym/Web-v0"

    def browser_action(self, action: str) -> str:
        """Perform one action on the page.

        Args:
            action: one action such as click('12'), fill('16', 'text'), select_option('7', 'Blue'),
                press('Enter'), scroll('down'), hover('5'), noop() or send_msg_to_user('question').

        Returns:
            The page outline after the action, or an error message.
        """
        return self._act(action)


class NegotiationEnvironment(SelfgymEnvironment):
    """Negotiation-v0: one seat of Deal or No Deal against the env's partner."""

    env_id = "selfgym/Negotiation-v0"

    def send_message(self, message: str) -> str:
        """Send a message to the other player.

        Args:
            message: what to say.

        Returns:
            The other player's answer, or an error message.
        """
        return self._act(f"[message] {message}")

    def propose(self, books: int, hats: int, balls: int) -> str:
        """Propose a final split, naming the items YOU keep; the other player then proposes too.

        Args:
            books: how many books you keep.
            hats: how many hats you keep.
            balls: how many balls you keep.

        Returns:
            The outcome of the game, or an error message.
        """
        return self._act(f"[propose] ({int(books)} books, {int(hats)} hats, {int(balls)} balls)")


FAMILY_ENVIRONMENTS: dict[str, type[SelfgymEnvironment]] = {
    "code": CodeTaskEnvironment,
    "tooluse": ToolUseEnvironment,
    "customer_service": CustomerServiceEnvironment,
    "web": WebEnvironment,
    "miniwob": WebEnvironment,
    "negotiation": NegotiationEnvironment,
}


def environment_for(env_id: str, **env_kwargs: Any):
    """A zero-argument factory for ``environment_factory`` on any registered multi-turn id."""
    from selfgym.registration import catalog

    entry = next((e for e in catalog("gymnasium") if e.id == env_id), None)
    if entry is None:
        raise KeyError(f"{env_id!r} is not a registered selfgym id; see `selfgym list`")
    cls = FAMILY_ENVIRONMENTS.get(entry.family)
    if cls is None:
        raise KeyError(f"no environment_factory adapter for family {entry.family!r}; "
                       f"use EnvReward for single-turn envs (families with adapters: {sorted(FAMILY_ENVIRONMENTS)})")

    def factory() -> SelfgymEnvironment:
        return cls(env_id, **env_kwargs)

    factory.__name__ = f"{cls.__name__}_factory"
    return factory
