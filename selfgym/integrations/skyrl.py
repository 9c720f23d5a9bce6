"""selfgym envs as SkyRL-Gym text envs (pinned: ``skyrl-gym==0.4.0``).

SkyRL's generator makes one env per dataset row with ``skyrl_gym.make(row["env_class"],
env_config=..., extras=row)``, calls ``init(prompt)`` for the first chat and ``step(action)`` with
each model reply, appending the returned ``observations`` to the chat. ``SelfgymTextEnv`` is that
``BaseTextEnv`` for every selfgym family: it only speaks the env contract (``reset``,
``step``, ``info["messages"]``, ``info["tools"]``, the verdict), so no family needs code here.

Importing this module registers, in SkyRL-Gym's registry, every selfgym Gymnasium id (a row's
``env_class`` may be ``"selfgym/Arithmetic-v0"``) and the generic ``"selfgym"`` (the id is then
read from ``extra_info["env_id"]``). ``skyrl_rows`` writes rows in that layout.

Rewards are the env's step rewards. Infrastructure errors are never a 0: with
``on_infra_error="raise"`` (the default) ``step`` raises ``VerifierError``, which stops SkyRL's
generator loudly; with ``"mask"`` the step ends the episode with a NaN reward and
``metadata["reward_valid"] = False`` for a generator that drops such samples.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from selfgym.errors import ConfigError, DependencyError, VerifierError

try:
    import skyrl_gym
    from skyrl_gym.envs.base_text_env import BaseTextEnv, BaseTextEnvStepOutput
except ImportError as exc:  # pragma: no cover - depends on the install
    raise DependencyError("skyrl-gym", "trainers", "the SkyRL-Gym adapter") from exc

import selfgym  # noqa: F401  (registers the ids)
from selfgym.integrations.trl import env_tasks, task_prompt
from selfgym.integrations.trl_envs import make_env
from selfgym.types import Task

GENERIC_ID = "selfgym"


def _get(mapping: Any, key: str, default: Any = None) -> Any:
    if mapping is None:
        return default
    try:
        value = mapping.get(key, default)
    except AttributeError:
        return default
    return default if value is None else value


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _plain(value: Any) -> Any:
    """OmegaConf / numpy containers into builtins (SkyRL passes configs as DictConfig)."""
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(value, DictConfig):
            return OmegaConf.to_container(value, resolve=True)
    except ImportError:  # pragma: no cover
        pass
    return dict(value) if value else {}


class SelfgymTextEnv(BaseTextEnv):
    """One selfgym episode behind SkyRL-Gym's ``init`` / ``step``.

    Args:
        env_config: SkyRL's per-env-class config (``environment.skyrl_gym.<env_class>``); may hold
            ``env_kwargs`` (constructor options for every row) and ``on_infra_error``.
        extras: the dataset row. ``extra_info`` may hold ``env_id`` (needed with the generic
            ``"selfgym"`` class), ``task`` (a Task as JSON; else ``reward_spec.ground_truth``),
            ``seed`` and ``env_kwargs`` (JSON); ``max_turns`` caps the model's turns.
        env_id: set by the per-id registrations.
    """

    def __init__(self, env_config: Any = None, extras: dict[str, Any] | None = None, env_id: str | None = None):
        super().__init__()
        extras = extras or {}
        config = _plain(env_config)
        info = _plain(extras.get("extra_info"))
        self.env_id = env_id or info.get("env_id") or config.get("env_id")
        if not self.env_id:
            raise ConfigError("the generic 'selfgym' SkyRL env needs extra_info['env_id'] (or use the id as env_class)")
        self.on_infra_error = config.get("on_infra_error", "raise")
        if self.on_infra_error not in ("raise", "mask"):
            raise ConfigError(f"on_infra_error must be 'raise' or 'mask', got {self.on_infra_error!r}")
        kwargs = dict(_loads(config.get("env_kwargs")) or {})
        kwargs.update(_loads(info.get("env_kwargs")) or {})
        self.task = _loads(info.get("task") or _get(extras.get("reward_spec"), "ground_truth"))
        self.seed = info.get("seed")
        self.max_turns = int(extras.get("max_turns") or info.get("max_turns") or 10_000)
        self.env = make_env(self.env_id, **kwargs)
        self._seen = 0
        self.episode_return = 0.0
        self.reward_valid = True
        self.passed: bool | None = None
        self.done = False

    def init(self, prompt: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Reset the env on the row's task; the first chat is the env's own (``info["messages"]``).

        ``prompt`` (the row's) is what ``skyrl_rows`` stored from the same env, so it normally
        equals the returned chat; the env's is returned so the two can never drift apart.
        """
        seed = None if self.seed is None else int(self.seed)
        _, info = self.env.reset(seed=seed, options={"task": self.task} if self.task else None)
        messages = [dict(m) for m in info["messages"]]
        self._seen = len(messages)
        return messages, {"task_id": info.get("task_id"), "tools": info.get("tools") or []}

    def step(self, action: str) -> BaseTextEnvStepOutput:
        """Apply the model's reply; observations are the messages the env added after it."""
        self.turns += 1
        if self.done:
            raise VerifierError(f"{self.env_id}: step() after the episode ended")
        obs, reward, terminated, truncated, info = self.env.step(action)
        messages = info.get("messages") or []
        new = [dict(m) for m in messages[self._seen + 1:]]
        if not new:  # an env without info["messages"]: its observation text is the user turn
            new = [{"role": "user", "content": obs["text"] if isinstance(obs, dict) else str(obs)}]
        self._seen = len(messages)
        valid = info.get("reward_valid") is not False and not math.isnan(float(reward))
        verdict = info.get("verdict")
        if isinstance(verdict, dict):
            self.passed = bool(verdict.get("passed"))
        metadata = {"reward_valid": valid, "verdict": verdict, "action_error": info.get("action_error")}
        self.done = bool(terminated or truncated or self.turns >= self.max_turns)
        if not valid:
            self.reward_valid = False
            if self.on_infra_error == "raise":
                error = (verdict or {}).get("error") if isinstance(verdict, dict) else None
                raise VerifierError(f"{self.env_id}: verification failed for infrastructure reasons ({error}); "
                                    "the sample has no reward (on_infra_error='mask' returns NaN instead)")
            self.done = True
            return BaseTextEnvStepOutput(observations=[], reward=math.nan, done=True, metadata=metadata)
        self.episode_return += float(reward)
        return BaseTextEnvStepOutput(observations=[] if self.done else new, reward=float(reward),
                                     done=self.done, metadata=metadata)

    def get_metrics(self) -> dict[str, Any]:
        return {"turns": self.turns, "return": self.episode_return if self.reward_valid else math.nan,
                "passed": float(bool(self.passed)), "reward_valid": float(self.reward_valid)}

    def close(self) -> None:
        self.env.close()


def register_all() -> list[str]:
    """Register ``"selfgym"`` and every selfgym Gymnasium id in SkyRL-Gym (idempotent); returns the ids."""
    from skyrl_gym.envs.registration import registry

    from selfgym.registration import catalog

    entry = f"{__name__}:SelfgymTextEnv"
    ids = [GENERIC_ID] + [e.id for e in catalog("gymnasium")]
    for env_id in ids:
        if env_id not in registry:
            skyrl_gym.register(id=env_id, entry_point=entry, kwargs={} if env_id == GENERIC_ID else {"env_id": env_id})
    return ids


def skyrl_rows(env_id: str, n: int, seed: int = 0, env_kwargs: dict[str, Any] | None = None,
               tasks: Sequence[Task] | None = None, max_turns: int | None = None) -> list[dict[str, Any]]:
    """``n`` rows in SkyRL's dataset layout: ``prompt``, ``env_class`` (the id), ``reward_spec``, ``extra_info``."""
    tasks = list(tasks) if tasks is not None else env_tasks(env_id, n, seed, env_kwargs)
    env = make_env(env_id, **dict(env_kwargs or {}))
    rows = []
    try:
        for i, task in enumerate(tasks):
            task_json = json.dumps(task.to_dict())
            row = {
                "prompt": task_prompt(env_id, task, env=env),
                "env_class": env_id,
                "reward_spec": {"method": "rule", "ground_truth": task_json},
                "extra_info": {"env_id": env_id, "task": task_json, "env_kwargs": json.dumps(env_kwargs or {}),
                               "seed": seed + i, "index": i},
            }
            if max_turns:
                row["max_turns"] = int(max_turns)
            rows.append(row)
    finally:
        env.close()
    return rows


REGISTERED = register_all()
