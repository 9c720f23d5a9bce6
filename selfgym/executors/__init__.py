"""Executors: the same envs, seeds and policy, run in-process, in vector envs, on Ray, or remotely.

```python
from selfgym.executors import InProcess, VectorEnv, drive, ShadowOracle

oracle = ShadowOracle("selfgym/Arithmetic-v0")
with VectorEnv("selfgym/Arithmetic-v0", num_envs=2, mode="sync") as ex:
    episodes = drive(ex, oracle, episodes=4, seed=0, env_id="selfgym/Arithmetic-v0")
[e.total_reward for e in episodes]          # the oracle solves every task: [1.0, 1.0, 1.0, 1.0]
```

| executor | where the envs live | made by |
|---|---|---|
| ``Threads`` | this process, one dedicated thread per env (what ``rollout`` uses) | ``Threads(envs)`` |
| ``InProcess`` | this process, one after another | ``make_executor("inprocess", id, n)`` |
| ``VectorEnv`` | Gymnasium ``SyncVectorEnv`` / ``AsyncVectorEnv`` (lockstep) | ``"sync"``, ``"async"`` |
| ``RayActors`` | Ray actors spread over a cluster's nodes (``SPREAD`` placement group) | ``"ray"`` |
| ``EnvServers`` | sessions on OpenEnv-protocol servers (``selfgym serve-env``) | ``"envserver"`` |

All of them are ``Transport``s driven by one loop, ``drive`` (see ``driver``), which
``selfgym.rollout.rollout`` also runs (over ``Threads``, raising env errors instead of retrying)
and which turns any failure of the machinery into a retry or an infrastructure-error episode
(NaN), never a lost episode or a 0.
"""

from __future__ import annotations

from typing import Any

from selfgym.errors import ConfigError
from selfgym.executors.driver import KeyedAgent, Transport, drive, infra_step
from selfgym.executors.local import InProcess, VectorEnv, make_env
from selfgym.executors.policies import ShadowOracle
from selfgym.executors.threads import EnvThread, Threads

__all__ = ["EXECUTORS", "EnvThread", "InProcess", "KeyedAgent", "ShadowOracle", "Threads", "Transport", "VectorEnv",
           "drive", "infra_step", "make_env", "make_executor"]

EXECUTORS = ("inprocess", "sync", "async", "ray", "envserver")


def make_executor(kind: str, env_id: str, num_envs: int = 2, *, env_kwargs: dict[str, Any] | None = None,
                  address: str | None = None, urls: list[str] | None = None, **options: Any) -> Transport:
    """An executor of ``kind`` (one of ``EXECUTORS``) with ``num_envs`` envs of ``env_id``.

    ``address`` is the Ray cluster for ``"ray"`` (None: the initialised one, else a local one);
    ``urls`` the env servers for ``"envserver"``; other ``options`` go to the executor's class.
    """
    if kind == "inprocess":
        return InProcess(env_id, num_envs, env_kwargs)
    if kind in ("sync", "async"):
        return VectorEnv(env_id, num_envs, kind, env_kwargs)
    if kind == "ray":
        from selfgym.executors.ray_exec import RayActors

        return RayActors(env_id, num_envs, env_kwargs=env_kwargs, address=address, **options)
    if kind == "envserver":
        from selfgym.executors.envserver import EnvServers

        if not urls:
            raise ConfigError("the envserver executor needs the servers' urls (selfgym serve-env ID --port N)")
        return EnvServers(urls, num_envs, **options)
    raise ConfigError(f"executor must be one of {EXECUTORS}, got {kind!r}")
