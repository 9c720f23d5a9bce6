"""selfgym envs for TRL's ``GRPOTrainer(environment_factory=...)`` (multi-turn training).

TRL builds instances of the factory, calls ``reset(**row)`` (the dataset row's columns as
keyword arguments; a string return is appended to the prompt's last message, ``None`` adds
nothing), turns the instance's public methods into tools (schemas from their signatures and
docstrings) and dispatches each tool call *by method name* with the call's JSON arguments
as keyword arguments; it reads ``get_reward()`` once the rollout ends.

One generic adapter serves every family: ``environment_class(env_id)`` reads the env's action
set (``selfgym.actions``) and generates a class with one public method per action, with that
action's typed signature and docstring, so ToolUse's ``convert_mass(value, from_unit,
to_unit)`` is a method TRL can call, and so is the web's ``click(id)`` or negotiation's
``propose(books, hats, balls)``. A method turns its arguments into the env's action text,
steps the env and returns the next observation; arguments that do not fit the action's
signature come back as an error message, like any agent mistake.

``get_reward`` returns the episode's summed reward, or NaN when verification hit an
infrastructure error (TRL leaves NaN-scored rollouts out of the group baseline and gives them
no advantage): an infrastructure error is never a 0.

Rows may carry ``task`` (a Task as JSON, as ``task_dataset`` writes it, or a task id) and
``seed``. When the row's ``prompt`` already holds the first observation (``task_dataset``
rows do), ``reset`` returns None so it is not shown twice.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable
from typing import Any

import gymnasium as gym

import selfgym  # noqa: F401  (registers the ids)
from selfgym.actions import ActionSet, action_set_of
from selfgym.errors import ConfigError, TaskError
from selfgym.tools import Tool, ToolError

OVER = "The episode is over; no further actions are accepted."


def make_env(env_id: str, **env_kwargs: Any) -> gym.Env:
    """``gym.make`` with infrastructure errors masked (NaN) where the env verifies anything."""
    from selfgym.registration import catalog

    if env_id not in {e.id for e in catalog("gymnasium")}:
        raise ConfigError(f"{env_id!r} is not a registered selfgym id; see `selfgym list`")
    try:
        return gym.make(env_id, on_infra_error="mask", **env_kwargs)
    except TypeError:  # an env without the on_infra_error option (no verifier behind it)
        return gym.make(env_id, **env_kwargs)


class SelfgymEnvironment:
    """The generic adapter: one selfgym env, its action set, its episode reward.

    Public methods of generated subclasses are the env's actions; the rest is private (every
    public method becomes a tool in TRL) except ``reset`` and ``get_reward``.
    """

    env_id: str = ""
    env_kwargs: dict[str, Any] = {}

    def __init__(self, env_id: str | None = None, **env_kwargs: Any):
        self.env_id = env_id or self.env_id
        self._env = make_env(self.env_id, **{**self.env_kwargs, **env_kwargs})
        self._actions: ActionSet = action_set_of(self._env)
        self._reward = 0.0
        self._valid = True
        self._done = False
        self.last_info: dict[str, Any] = {}

    def reset(self, task: Any = None, seed: int | None = None, prompt: Any = None, **row: Any) -> str | None:
        """Start an episode on the row's task (or a seeded one); returns the first observation,
        or None when the row's prompt already shows it."""
        options = None
        if task is not None:
            if isinstance(task, str) and task.lstrip().startswith("{"):
                try:
                    task = json.loads(task)
                except json.JSONDecodeError as exc:
                    raise TaskError(f"the row's task is not valid JSON ({exc.msg} at position {exc.pos})") from None
            options = {"task": task}
        obs, info = self._env.reset(seed=None if seed is None else int(seed), options=options)
        self._reward, self._valid, self._done = 0.0, True, False
        self.last_info = info
        text = self._text(obs)
        if _shown(prompt, text):
            return None
        last = _last_content(prompt)
        return text if not last or last[-1].isspace() else "\n\n" + text

    def get_reward(self) -> float:
        """The episode's summed reward, or NaN when an infrastructure error masked it."""
        return self._reward if self._valid else math.nan

    # ------------------------------------------------------------------ private
    def _call(self, name: str, arguments: dict[str, Any]) -> str:
        """Run action ``name`` with ``arguments``: render it, step the env, return what came back."""
        if self._done:
            return OVER
        try:
            text = self._actions.to_text(name, arguments)
        except ToolError as exc:
            return f"Error: {exc}"
        return self._act(text)

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


def _last_content(prompt: Any) -> str:
    if isinstance(prompt, list) and prompt and isinstance(prompt[-1], dict):
        content = prompt[-1].get("content")
        return content if isinstance(content, str) else ""
    return prompt if isinstance(prompt, str) else ""


def _shown(prompt: Any, text: str) -> bool:
    """Whether the prompt already holds ``text`` (a ``task_dataset`` row's first observation)."""
    if not text or prompt is None:
        return False
    messages = prompt if isinstance(prompt, list) else [{"content": prompt}]
    return any(isinstance(m, dict) and isinstance(m.get("content"), str) and text.strip() in m["content"]
               for m in messages)


def _docstring(action: Tool) -> str:
    """A Google-style docstring for ``action`` (what TRL's schema builder reads)."""
    props = action.parameters["properties"]
    lines = [action.description, ""]
    if props:
        lines.append("Args:")
        for pname, schema in props.items():
            desc = " ".join(str(schema.get("description") or f"the {pname}").split())
            lines.append(f"    {pname}: {desc}")
        lines.append("")
    lines += ["Returns:", "    What the environment answers: the next observation, or an error message."]
    return "\n".join(lines)


def _method(action: Tool, owner: str) -> Callable[..., str]:
    """A public method with ``action``'s typed signature that dispatches to ``_call``."""
    name = action.name
    order = [p.name for p in action.params]

    def method(self: SelfgymEnvironment, *args: Any, **kwargs: Any) -> str:
        arguments = dict(zip(order, args, strict=False))
        arguments.update(kwargs)
        return self._call(name, arguments)

    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    annotations: dict[str, Any] = {}
    for p in action.params:
        ann = p.annotation
        params.append(inspect.Parameter(p.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=ann,
                                        default=inspect.Parameter.empty if p.required else p.default))
        if ann is not inspect.Parameter.empty:
            annotations[p.name] = ann
    annotations["return"] = str
    method.__name__ = name
    method.__qualname__ = f"{owner}.{name}"
    method.__doc__ = _docstring(action)
    method.__signature__ = inspect.Signature(params, return_annotation=str)  # type: ignore[attr-defined]
    method.__annotations__ = annotations
    return method


_CLASSES: dict[str, type[SelfgymEnvironment]] = {}
_RESERVED = {"reset", "get_reward"}


def environment_class(env_id: str, **env_kwargs: Any) -> type[SelfgymEnvironment]:
    """The ``environment_factory`` class of ``env_id``: one typed public method per action.

    ``env_kwargs`` go to ``gym.make`` on every instance (and may change the action set, e.g.
    ToolUse's ``domains``). Classes are cached per id and kwargs.
    """
    key = env_id + json.dumps(env_kwargs, sort_keys=True, default=repr)
    if key in _CLASSES:
        return _CLASSES[key]
    probe = make_env(env_id, **env_kwargs)
    try:
        actions = action_set_of(probe)
    finally:
        probe.close()
    clash = _RESERVED & set(actions.names)
    if clash:
        raise ConfigError(f"{env_id}: actions named {sorted(clash)} would shadow the trainer's own methods")
    owner = env_id.split("/")[-1].replace("-", "_") + "_Environment"
    doc = f"{env_id} for TRL's environment_factory; its methods are the env's actions."
    namespace: dict[str, Any] = {"env_id": env_id, "env_kwargs": dict(env_kwargs), "__doc__": doc,
                                 "__module__": __name__}
    for action in actions:
        namespace[action.name] = _method(action, owner)
    cls = type(owner, (SelfgymEnvironment,), namespace)
    _CLASSES[key] = cls
    return cls


def environment_for(env_id: str, **env_kwargs: Any) -> type[SelfgymEnvironment]:
    """A zero-argument factory for ``environment_factory`` on any registered id (the class itself)."""
    return environment_class(env_id, **env_kwargs)
