"""TextEnv: the shared shape of selfgym's single-agent text environments.

A family subclasses ``TextEnv`` and writes three methods:

- ``sample_task(rng) -> Task``: pick a task when ``reset`` is not given one;
- ``begin(task) -> str``: set up the episode, return the first observation's text;
- ``act(action: str) -> Outcome``: apply one action (any string), say what came back.

and declares, with one meaning for every family:

- ``action_set() -> ActionSet``: the family's typed actions (``selfgym.actions``), the one
  declaration from which prompts, ``info["tools"]``, parsing and trainer methods are derived;
- ``task_set(n=None, seed=0) -> list[Task]``: a deterministic list of distinct tasks with
  stable ids (the same ``n`` and ``seed`` give the same list; no task twice): the env's whole
  set (or a default number of generated tasks) when ``n`` is None, else at most ``n`` of them;
- ``cheat() -> str``: the oracle's next action on the current episode; playing ``cheat()``
  until the episode ends earns the maximum reward (tested over every registered id);
- ``find_task(task_id) -> Task``: a task by its id (``reset(options={"task": "<id>"})``).

The base does the rest of the contract: the Gymnasium 5-tuple, ``reset(seed=None, options=None)``
with ``options={"task": Task | dict | id}`` (how curricula choose tasks), observations normalised
into ``observation_space``, ``info`` with ``task_id``, ``messages`` (OpenAI chat format),
``tools``, ``difficulty``, ``verdict`` on terminal steps and ``action_error`` when the action
was malformed, and ``render_mode="ansi"``. Agent mistakes are ``Outcome(action_error=...)``,
never exceptions. An action may be a string, bytes, or a dict (a call object, read as JSON).
A ``VerifierError`` (a ``SandboxError`` included) escaping ``act`` is turned into an
infrastructure-error verdict here, resolved by ``on_infra_error``: never a reward of 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from selfgym.actions import ActionSet, action_set_of, action_text
from selfgym.errors import ConfigError, TaskError, VerifierError
from selfgym.spaces import DEFAULT_ACTION_LENGTH, DEFAULT_OBS_LENGTH, normalize_text, text_space
from selfgym.types import ON_INFRA_ERROR, Task, Verdict, resolve_reward


@dataclass
class Outcome:
    """What one action did.

    ``verdict`` (terminal steps of verified tasks) supplies the reward unless ``reward`` is set;
    an infrastructure-error verdict is resolved by the env's ``on_infra_error`` policy.
    """

    observation: str
    reward: float | None = None
    terminated: bool = False
    truncated: bool = False
    verdict: Verdict | None = None
    action_error: str | None = None
    info: dict[str, Any] = field(default_factory=dict)


class TextEnv(gym.Env):
    """Base class for selfgym's single-agent text envs (see the module docstring)."""

    metadata = {"render_modes": ["ansi"], "render_fps": 4}
    family: str = "text"
    # the family's LLM prompt template, "module:Class" (a selfgym.prompting.GenericTemplate
    # subclass in the family's folder), passed to agents as info["prompt_template"]; None: generic
    prompt_template: str | None = None
    system_prompt: str | None = None

    def __init__(
        self,
        *,
        render_mode: str | None = None,
        on_infra_error: str = "raise",
        max_observation_length: int = DEFAULT_OBS_LENGTH,
        max_action_length: int = DEFAULT_ACTION_LENGTH,
    ):
        if render_mode not in (None, "ansi"):
            raise ConfigError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        if on_infra_error not in ON_INFRA_ERROR:
            raise ConfigError(f"on_infra_error must be one of {ON_INFRA_ERROR}, got {on_infra_error!r}")
        self.render_mode = render_mode
        self.on_infra_error = on_infra_error
        self.max_observation_length = max_observation_length
        self.observation_space = text_space(max_observation_length)
        self.action_space = text_space(max_action_length)
        self.task: Task | None = None
        self.messages: list[dict[str, Any]] = []
        self._last_obs = ""
        self._done = False

    # ------------------------------------------------------------------ family hooks
    def sample_task(self, rng: np.random.Generator) -> Task:
        """Choose a task for an episode whose ``reset`` did not name one."""
        raise NotImplementedError(f"{type(self).__name__} must implement sample_task")

    def begin(self, task: Task) -> str:
        """Start an episode on ``task``; return the first observation's text."""
        raise NotImplementedError(f"{type(self).__name__} must implement begin")

    def act(self, action: str) -> Outcome:
        """Apply one action (any string) and say what came back."""
        raise NotImplementedError(f"{type(self).__name__} must implement act")

    def tools(self) -> list[dict[str, Any]]:
        """JSON schemas (OpenAI function format) of the tools an agent may call; none by default."""
        return []

    def action_set(self) -> ActionSet | None:
        """The family's typed actions (see ``selfgym.actions``); None: look in the package's
        ``actions`` module (``selfgym.actions.action_set_of``)."""
        return None

    def task_set(self, n: int | None = None, seed: int = 0) -> list[Task]:
        """A deterministic list of distinct tasks with stable ids (see the module docstring)."""
        raise NotImplementedError(f"{type(self).__name__} must implement task_set")

    def cheat(self) -> str:
        """The oracle's next action; played to the end of an episode it earns the maximum reward."""
        raise NotImplementedError(f"{type(self).__name__} must implement cheat")

    def find_task(self, task_id: str) -> Task:
        """The task with this id; by default searched in ``task_set()``. Raises TaskError."""
        for t in self.task_set():
            if t.id == task_id:
                return t
        name = type(self).__name__.removesuffix("Env")
        raise TaskError(f"no {name} task with id {task_id!r} in this env's task set; "
                        "pass the Task itself (or its dict) instead")

    def coerce_task(self, value: Any) -> Task:
        """Turn ``options["task"]`` into a Task: a Task, its dict, or a task id (``find_task``)."""
        if isinstance(value, str):
            return self.find_task(value)
        return Task.coerce(value)

    # ------------------------------------------------------------------ Gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = options or {}
        value = options.get("task")
        if isinstance(value, str) and not value.lstrip().startswith("{"):
            value = self.find_task(value)  # a task id, in every family
        elif isinstance(value, str):
            value = json.loads(value)
        task = self.coerce_task(value) if value is not None else self.sample_task(self.np_random)
        self.task = task
        self._done = False
        text = self.begin(task)
        self.messages = []
        if self.system_prompt:
            self.messages.append({"role": "system", "content": self.system_prompt})
        obs = self._observe(text)
        return obs, self._info({})

    def step(self, action: Any):
        if self.task is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        action = self._action_text(action)
        if self._done:
            out = Outcome("The episode has ended; call reset().", reward=0.0, terminated=True,
                          action_error="step() called after the episode ended")
        else:
            self.messages.append({"role": "assistant", "content": action})
            try:
                out = self.act(action)
            except VerifierError as exc:  # the one place a SandboxError becomes a verdict: ours, never the agent's
                out = Outcome("The verifier failed (an infrastructure error, not your answer's fault); the episode "
                              "is cut short.", truncated=True, verdict=Verdict.infra_error(str(exc)))
        extra = dict(out.info)
        reward = out.reward
        if out.verdict is not None:
            value, valid = resolve_reward(out.verdict, self.on_infra_error)
            extra["verdict"] = out.verdict.to_dict()
            extra["reward_valid"] = valid
            if reward is None or not valid:
                reward = value
        if reward is None:
            reward = 0.0
        if out.action_error:
            extra["action_error"] = out.action_error
        self._done = self._done or out.terminated or out.truncated
        obs = self._observe(out.observation)
        return obs, float(reward), bool(out.terminated), bool(out.truncated), self._info(extra)

    def render(self):
        if self.render_mode == "ansi":
            return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in self.messages)
        return None

    # ------------------------------------------------------------------ pickling
    replay_state: tuple[str, ...] = ()
    """Attributes that cannot be pickled (a page model with callbacks, a browser page). When set,
    pickling drops them and unpickling rebuilds them by replaying the episode: ``begin(task)``
    and then ``act`` on each action taken so far (the envs are deterministic given the task)."""

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if self.replay_state:
            for name in self.replay_state:
                state[name] = None
            state["_replay_actions"] = ([m["content"] for m in self.messages if m["role"] == "assistant"]
                                        if self.task is not None else None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        actions = state.pop("_replay_actions", None)
        self.__dict__.update(state)
        if actions is None:
            return
        kept = {k: v for k, v in state.items() if k not in self.replay_state}
        assert self.task is not None  # _replay_actions is only saved mid-episode
        self.begin(self.task)
        for action in actions:
            self.act(action)
        self.__dict__.update(kept)

    # ------------------------------------------------------------------ helpers
    def _action_text(self, action: Any) -> str:
        """The action as the family reads it (``ActionSet.normalize``): bytes decoded, a dict (a
        call object) as JSON, never ``str(dict)``; a structured call to a text-syntax action
        (``{"name": "click", "arguments": {"id": "12"}}``) rendered into the family's text."""
        if isinstance(action, str) and action.lstrip()[:1] not in ("{", "<"):
            return action
        try:
            return action_set_of(self).normalize(action)
        except ConfigError:
            return action_text(action)

    def _observe(self, text: str) -> str:
        obs = normalize_text(text, self.max_observation_length)
        self.messages.append({"role": "user", "content": obs})
        self._last_obs = obs
        return obs

    def _info(self, extra: dict[str, Any]) -> dict[str, Any]:
        task = self.task
        info = {
            "task_id": task.id if task else None,
            "family": self.family,
            "messages": [dict(m) for m in self.messages],
            "tools": self.tools(),
            "difficulty": dict(task.difficulty) if task else {},
        }
        if self.prompt_template:
            info["prompt_template"] = self.prompt_template
        info.update(extra)
        return info

