"""Serve any selfgym id over OpenEnv's protocol (``selfgym serve-env ID``).

The server is openenv-core's own: ``create_fastapi_app`` with an ``Environment`` subclass that
wraps ``gymnasium.make(ID)``, so OpenEnv clients (``GenericEnvClient``, TRL's and SkyRL's
OpenEnv integrations) talk to it unchanged. Each WebSocket session (``/ws``) gets its own env;
``max_sessions`` of them run at once.

    selfgym serve-env selfgym/ToolUse-v0 --port 8011 --max-sessions 16

Wire types: the action is ``SelfgymAction(text=...)``; the observation is
``SelfgymObservation`` with ``text`` (and ``structured``, the whole observation, for envs
whose observations are dicts), ``info`` (the env's info, JSON), ``terminated``,
``truncated``, ``reward_valid`` and ``nan_paths``. JSON has no NaN, so an invalid reward (an
infrastructure error masked as NaN) travels as ``reward=None`` with ``reward_valid=False``, and
every NaN inside ``info`` as ``null`` whose path is listed in ``nan_paths``;
``SelfgymEnvClient`` restores them exactly. A session whose env fails (its sandbox gave up, the
env raised) answers with OpenEnv's ``EXECUTION_ERROR`` and refuses further steps until it is
reset; a client sees an error, never a reward of 0.
"""

from __future__ import annotations

import functools
import math
from typing import Any

from selfgym.errors import require

require("openenv.core", "distributed", "serving envs over OpenEnv's protocol")

from openenv.core.client_types import StepResult  # noqa: E402
from openenv.core.env_client import EnvClient  # noqa: E402
from openenv.core.env_server.http_server import create_fastapi_app  # noqa: E402
from openenv.core.env_server.interfaces import Environment  # noqa: E402
from openenv.core.env_server.types import Action, ConcurrencyConfig, EnvironmentMetadata, Observation, State  # noqa: E402
from pydantic import Field  # noqa: E402

from selfgym.types import to_jsonable  # noqa: E402


class SelfgymAction(Action):
    """One action of a selfgym env: any text (malformed text is an error observation)."""

    text: str = Field(default="", description="the agent's action")


class SelfgymObservation(Observation):
    """What a selfgym env returned (see the module doc for NaN handling)."""

    text: str = Field(default="", description="the observation text")
    structured: dict[str, Any] | None = Field(default=None, description="the whole observation, for envs whose "
                                                 "observations are dicts (e.g. text plus arrays); None for text")
    info: dict[str, Any] = Field(default_factory=dict, description="the env's info dict, JSON")
    terminated: bool = False
    truncated: bool = False
    reward_valid: bool = Field(default=True, description="False when the reward is an infrastructure error (NaN)")
    nan_paths: list[str] = Field(default_factory=list, description="'/'-joined paths in info whose value is NaN")


def _strip_nan(value: Any, path: str, out: list[str]) -> Any:
    if isinstance(value, float) and math.isnan(value):
        out.append(path)
        return None
    if isinstance(value, dict):
        return {k: _strip_nan(v, f"{path}/{k}" if path else str(k), out) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_nan(v, f"{path}/{i}" if path else str(i), out) for i, v in enumerate(value)]
    return value


def restore_nan(info: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """Put NaN back at each ``nan_paths`` entry of a received ``info``."""
    for p in paths:
        parts = p.split("/")
        node: Any = info
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        last = parts[-1]
        if isinstance(node, list):
            node[int(last)] = math.nan
        else:
            node[last] = math.nan
    return info


class SelfgymEnvironment(Environment):
    """An OpenEnv ``Environment`` around one selfgym env (one per session)."""

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self, env_id: str, env_kwargs: dict[str, Any] | None = None):
        super().__init__()
        from selfgym.executors.local import make_env

        self.env_id = env_id
        self.env = make_env(env_id, env_kwargs)
        self._state = State(episode_id=None, step_count=0)
        self._broken: str | None = None

    def _observation(self, obs: Any, reward: float | None, terminated: bool, truncated: bool,
                     info: dict[str, Any]) -> SelfgymObservation:
        nan_paths: list[str] = []
        clean = _strip_nan(to_jsonable(info), "", nan_paths)
        valid = reward is None or not math.isnan(reward)
        structured = to_jsonable(obs) if isinstance(obs, dict) else None
        text = str(obs.get("text", "")) if isinstance(obs, dict) else str(obs)
        return SelfgymObservation(text=text, structured=structured, info=clean, terminated=terminated,
                                  truncated=truncated,
                                  done=terminated or truncated, reward=reward if valid else None,
                                  reward_valid=valid and clean.get("reward_valid", True) is not False,
                                  nan_paths=nan_paths)

    def reset(self, seed: int | None = None, episode_id: str | None = None,
              options: dict[str, Any] | None = None, **kwargs: Any) -> SelfgymObservation:
        self._broken = None
        obs, info = self.env.reset(seed=seed, options=options)
        self._state = State(episode_id=episode_id, step_count=0)
        return self._observation(obs, None, False, False, info)

    def step(self, action: SelfgymAction, timeout_s: float | None = None, **kwargs: Any) -> SelfgymObservation:
        if self._broken:
            raise RuntimeError(f"this session's env failed earlier ({self._broken}); reset it")
        try:
            obs, reward, terminated, truncated, info = self.env.step(action.text)
        except Exception as exc:
            self._broken = f"{type(exc).__name__}: {exc}"[:300]
            raise
        self._state.step_count += 1
        return self._observation(obs, float(reward), bool(terminated), bool(truncated), info)

    @property
    def state(self) -> State:
        return self._state

    def get_metadata(self) -> EnvironmentMetadata:
        return EnvironmentMetadata(name=self.env_id, description=f"selfgym env {self.env_id}", version="1")

    def close(self) -> None:
        self.env.close()


class SingleThreadSelfgymEnvironment(SelfgymEnvironment):
    """For envs bound to the thread that made them: every session's calls run on one thread."""

    REQUIRES_SINGLE_THREAD_EXECUTOR = True


def thread_bound(env_id: str) -> bool:
    """Whether ``env_id``'s envs must stay on the thread that made them: their class's
    ``metadata`` says ``"concurrent_steps": False`` (MiniWoB++: Playwright's sync API)."""
    import gymnasium as gym
    from gymnasium.envs.registration import load_env_creator

    entry = gym.spec(env_id).entry_point
    creator = load_env_creator(entry) if isinstance(entry, str) else entry
    return (getattr(creator, "metadata", None) or {}).get("concurrent_steps", True) is False


def make_app(env_id: str, env_kwargs: dict[str, Any] | None = None, *, max_sessions: int = 8,
             session_timeout_s: float | None = None, single_thread: bool | None = None):
    """openenv-core's FastAPI app serving ``env_id`` with up to ``max_sessions`` concurrent sessions.

    ``single_thread`` runs every session's env calls on one thread (default: for envs that are
    ``thread_bound``); otherwise each session has its own thread.
    """
    import gymnasium as gym

    import selfgym  # noqa: F401 - registers the ids

    gym.spec(env_id)  # fail now, with gymnasium's message, on an unknown id
    if single_thread is None:
        single_thread = thread_bound(env_id)
    cls = SingleThreadSelfgymEnvironment if single_thread else SelfgymEnvironment
    factory = functools.partial(cls, env_id, dict(env_kwargs or {}))
    config = ConcurrencyConfig(max_concurrent_envs=max_sessions, session_timeout=session_timeout_s)
    return create_fastapi_app(factory, SelfgymAction, SelfgymObservation, concurrency_config=config)


class SelfgymEnvClient(EnvClient[SelfgymAction, SelfgymObservation, State]):
    """openenv-core's ``EnvClient`` typed for selfgym servers (accepts a str or SelfgymAction)."""

    def _step_payload(self, action: Any) -> dict[str, Any]:
        if isinstance(action, str):
            return {"text": action}
        return action.model_dump()

    def _parse_result(self, payload: dict[str, Any]) -> StepResult[SelfgymObservation]:
        data = dict(payload.get("observation", {}))
        obs = SelfgymObservation(**data, reward=payload.get("reward"), done=payload.get("done", False))
        obs.info = restore_nan(obs.info, obs.nan_paths)
        return StepResult(observation=obs, reward=payload.get("reward"), done=bool(payload.get("done", False)))

    def _parse_state(self, payload: dict[str, Any]) -> State:
        return State(**payload)


def observation_of(obs: SelfgymObservation) -> Any:
    """The env's observation as received: the text, or the whole dict for structured observations."""
    return obs.structured if obs.structured is not None else obs.text


def gym_result(result: StepResult[SelfgymObservation]):
    """A received step as Gymnasium's 5-tuple (reward NaN when it is not valid)."""
    obs = result.observation
    reward = math.nan if result.reward is None else float(result.reward)
    return observation_of(obs), reward, obs.terminated, obs.truncated, obs.info
