"""selfgym envs as PrimeIntellect ``verifiers`` environments (pinned: ``verifiers==0.3.1``).

``SelfgymEnv(env_id, n)`` is a ``vf.MultiTurnEnv`` over any selfgym id: its dataset rows are the
env's first chats (one per task, the task kept in ``info``), each rollout resets a fresh env on
its row's task, and every model reply is stepped through the env; the messages the env adds
after the reply (its observation) are the environment's response. When the env's episode ends,
its last observation is the rollout's ``final_env_response`` and the rollout stops. Only the env
contract is used (``reset``, ``step``, ``info["messages"]``, the verdict), so no family needs
code here.

Its rubric has one reward function, ``env_reward``: the episode's summed reward as the env
computed it, plus two metrics (weight 0): ``passed`` (the final verdict) and ``reward_valid``.

Infrastructure errors are never a 0. A step whose verdict is an infrastructure error (envs run
with ``on_infra_error="mask"``) raises ``vf.InfraError`` inside the rollout, which verifiers
records as the rollout's ``state["error"]`` (a failed rollout is data); ``env_reward`` is then
NaN and ``reward_valid`` 0. A rollout that failed for another reason (the model server) is NaN
as well: its reward was never measured.

``verifiers`` 0.3.1 keeps this API in ``verifiers.legacy`` (exported as ``vf.MultiTurnEnv``);
0.4 removed it in favour of its v1 task/harness stack.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Sequence
from typing import Any

from selfgym.errors import DependencyError


def _import_verifiers():
    """Import the PyPI ``verifiers`` package.

    This repository has a folder named ``verifiers`` (installed as ``selfgym.verifiers``); with
    the repository root on ``sys.path`` (``python -m`` from the checkout) it would shadow the
    package, so the root is left out of the path for this one import.
    """
    import importlib
    import sys
    from pathlib import Path

    loaded = sys.modules.get("verifiers")
    if loaded is not None and hasattr(loaded, "__version__"):
        return loaded
    root = Path(selfgym.__file__).resolve().parents[1]
    saved = sys.path[:]
    if loaded is not None:
        del sys.modules["verifiers"]
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != root]
    try:
        return importlib.import_module("verifiers")
    finally:
        sys.path[:] = saved


import selfgym  # noqa: E402  (registers the ids)

try:
    vf = _import_verifiers()
    from datasets import Dataset
except ImportError as exc:  # pragma: no cover - depends on the install
    raise DependencyError("verifiers", "trainers", "the verifiers environment") from exc

if not hasattr(vf, "MultiTurnEnv"):  # pragma: no cover - a verifiers without the legacy API
    raise DependencyError("verifiers==0.3.1", "trainers", "the verifiers environment (vf.MultiTurnEnv)")

from selfgym.actions import action_set_of, action_text  # noqa: E402
from selfgym.integrations.trl import env_tasks, task_prompt  # noqa: E402
from selfgym.integrations.trl_envs import make_env  # noqa: E402
from selfgym.tools import ToolError  # noqa: E402
from selfgym.types import Task  # noqa: E402


def _obs_text(obs: Any) -> str:
    return obs["text"] if isinstance(obs, dict) else str(obs)


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _reply_actions(reply: Any, env: Any) -> list[str]:
    """The action texts of one assistant message: its text, or each of its tool calls."""
    def field(obj: Any, key: str) -> Any:
        return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)

    calls = field(reply, "tool_calls") or []
    if not calls:
        text = field(reply, "content") or ""
        if not isinstance(text, str):  # content parts
            text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
        return [text]
    actions = action_set_of(env.unwrapped)
    texts = []
    for call in calls:
        fn = field(call, "function") or call
        name, arguments = field(fn, "name"), field(fn, "arguments")
        try:
            texts.append(actions.to_text(name, arguments))
        except ToolError:  # the env answers a malformed call with an error observation
            texts.append(action_text({"name": name, "arguments": arguments}))
    return texts


def _message(role: str, content: str) -> Any:
    """An env message as verifiers' typed message."""
    cls = {"user": vf.UserMessage, "system": vf.SystemMessage, "assistant": vf.AssistantMessage}.get(role)
    if cls is None:
        raise ValueError(f"an env message has role {role!r}; verifiers takes user, system or assistant")
    return cls(content=content)


class SelfgymRubric(vf.Rubric):
    """The env's own reward, read from the rollout's state; never re-scored, never a default 0."""

    def __init__(self, **kwargs: Any):
        super().__init__(funcs=[self.env_reward, self.passed, self.reward_valid], weights=[1.0, 0.0, 0.0], **kwargs)

    @staticmethod
    def _episode(state: dict[str, Any]) -> dict[str, Any]:
        return state.get("selfgym") or {}

    async def env_reward(self, state: dict[str, Any]) -> float:
        """The episode's summed reward; NaN when it was never measured (an error stopped the rollout)."""
        ep = self._episode(state)
        if state.get("error") is not None or not ep.get("valid", False):
            return math.nan
        return float(ep["return"])

    async def passed(self, state: dict[str, Any]) -> float:
        """1.0 when the env's final verdict passed."""
        return float(bool(self._episode(state).get("passed")))

    async def reward_valid(self, state: dict[str, Any]) -> float:
        """1.0 when the reward is a measurement (no infrastructure or rollout error)."""
        return float(state.get("error") is None and bool(self._episode(state).get("valid", False)))


class SelfgymEnv(vf.MultiTurnEnv):
    """A verifiers multi-turn environment playing ``env_id`` (see the module docstring).

    Args:
        env_id: any registered selfgym Gymnasium id.
        n: tasks in the dataset (from the env's ``task_set``, else seeded resets).
        seed: first seed for the tasks; row ``i`` resets with ``seed + i``.
        env_kwargs: constructor options of the env.
        tasks: explicit tasks instead of ``n``.
        max_turns: cap on model turns (-1: until the env ends the episode; selfgym envs always do).
        **kwargs: passed to ``vf.MultiTurnEnv`` (``sampling_args``, ``timeout_seconds``...).
    """

    def __init__(self, env_id: str, n: int = 16, seed: int = 0, env_kwargs: dict[str, Any] | None = None,
                 tasks: Sequence[Task] | None = None, max_turns: int = -1, **kwargs: Any):
        self.selfgym_id = env_id
        self.selfgym_kwargs = dict(env_kwargs or {})
        tasks = list(tasks) if tasks is not None else env_tasks(env_id, n, seed, env_kwargs)
        env = make_env(env_id, **dict(env_kwargs or {}))
        try:
            rows = {"prompt": [], "answer": [], "info": []}
            for i, task in enumerate(tasks):
                rows["prompt"].append(task_prompt(env_id, task, env=env))
                rows["answer"].append("")
                rows["info"].append({"env_id": env_id, "selfgym_task": json.dumps(task.to_dict()), "seed": seed + i})
        finally:
            env.close()
        dataset = Dataset.from_dict(rows)
        super().__init__(dataset=dataset, eval_dataset=dataset, rubric=SelfgymRubric(), max_turns=max_turns,
                         env_id=env_id, **kwargs)

    async def setup_state(self, state: dict[str, Any]) -> dict[str, Any]:
        info = state.get("info") or {}
        if isinstance(info, str):
            info = json.loads(info)
        env = make_env(self.selfgym_id, **self.selfgym_kwargs)
        task = _loads(info.get("selfgym_task"))
        _, env_info = await asyncio.to_thread(env.reset, seed=info.get("seed"), options={"task": task})
        state["selfgym"] = {"env": env, "return": 0.0, "valid": True, "passed": None, "done": False,
                            "steps": 0, "seen": len(env_info["messages"])}
        return state

    async def env_response(self, messages: list[dict[str, Any]], state: dict[str, Any], **kwargs: Any):
        """Step the env with the model's last reply; return the messages the env added after it.

        A reply made of structured tool calls (a server that parses them) becomes the env's action
        texts through the family's action set, stepped in order, so no call is dropped.
        """
        ep = state["selfgym"]
        new: list[Any] = []
        for text in _reply_actions(messages[-1], ep["env"]):
            obs, reward, terminated, truncated, info = await asyncio.to_thread(ep["env"].step, text)
            ep["steps"] += 1
            verdict = info.get("verdict")
            if isinstance(verdict, dict):
                ep["passed"] = bool(verdict.get("passed"))
            if info.get("reward_valid") is False or math.isnan(float(reward)):
                ep["valid"] = False
                error = verdict.get("error") if isinstance(verdict, dict) else None
                raise vf.InfraError(f"{self.selfgym_id}: verification failed for infrastructure reasons ({error})")
            ep["return"] += float(reward)
            env_messages = info.get("messages") or []
            added = [_message(m["role"], m["content"]) for m in env_messages[ep["seen"] + 1:]]
            ep["seen"] = len(env_messages)
            new.extend(added or [_message("user", _obs_text(obs))])
            if terminated or truncated:
                ep["done"] = True
                state["final_env_response"] = new
                break
        return new

    @vf.cleanup
    async def close_selfgym_env(self, state: dict[str, Any]) -> None:
        ep = state.get("selfgym") or {}
        env = ep.pop("env", None)
        if env is not None:
            env.close()


def chat_client(base_url: str, api_key: str = "none") -> Any:
    """verifiers' OpenAI chat-completions client for a local OpenAI-compatible server.

    It leaves null fields out of the messages it sends: verifiers 0.3.1 sends
    ``reasoning_content: null`` on assistant turns, which llama.cpp's server rejects
    ("type must be string, but is null"); vLLM accepts either.
    """
    from openai import AsyncOpenAI
    from verifiers.legacy.clients import OpenAIChatCompletionsClient

    class _Client(OpenAIChatCompletionsClient):
        async def to_native_prompt(self, messages):
            native, extra = await super().to_native_prompt(messages)
            return [{k: v for k, v in m.items() if v is not None} for m in native], extra

    url = base_url.rstrip("/")
    return _Client(AsyncOpenAI(base_url=url if url.endswith("/v1") else url + "/v1", api_key=api_key))


def load_environment(env_id: str = "selfgym/Arithmetic-v0", n: int = 16, **kwargs: Any) -> SelfgymEnv:
    """verifiers' loader convention (``vf-eval`` / prime-rl call ``load_environment(**env_args)``)."""
    return SelfgymEnv(env_id, n=n, **kwargs)
