"""Envs as Ray actors spread over the nodes of a Ray cluster.

``RayActors(env_id, num_actors)`` places one actor per bundle of a placement group whose
strategy is ``SPREAD`` (bundles go to different nodes while nodes are free, instead of packing
one node), each actor holding ``envs_per_actor`` envs (a threaded actor, so an env waiting on
its sandbox does not block the others). The shared driver keeps every env busy: each result is
answered with the next action as soon as it arrives (``ray.wait``), never in lockstep.

Faults: a call on an actor that died (killed, out of memory, its node removed) raises Ray's
``RayActorError``; the driver asks ``repair``, which rebuilds the env in the actor when the
actor still answers, and otherwise starts a replacement actor anywhere in the cluster
(``SPREAD`` scheduling, outside the placement group, so a lost node's bundle need not come
back first). The episode is retried from its seed there, or reported as an infrastructure
error; it is never lost and never scored 0.
"""

from __future__ import annotations

import os
from typing import Any

from selfgym.errors import require
from selfgym.executors.driver import Transport

#: How long a repair waits for a replacement actor to answer.
REPAIR_TIMEOUT_S = 60.0


def _ray():
    return require("ray", "distributed", "running envs as Ray actors")


def release_actors(actors, placement_group, own_ray: bool, *, close_first: bool = False) -> None:
    """Kill ``actors`` (each after its ``close()`` when ``close_first``), remove their placement
    group, and shut Ray down when this process started it. Best effort: an actor or a group that
    is already gone counts as released."""
    ray = _ray()
    if not ray.is_initialized():
        return
    for a in actors:
        if close_first:
            try:
                ray.get(a.close.remote(), timeout=20)
            except Exception:  # noqa: BLE001
                pass
        try:
            ray.kill(a, no_restart=True)
        except Exception:  # noqa: BLE001
            pass
    try:
        from ray.util.placement_group import remove_placement_group

        remove_placement_group(placement_group)
    except Exception:  # noqa: BLE001
        pass
    if own_ray:
        ray.shutdown()


class _EnvHost:
    """The body of the env actor: ``n`` envs of one id, addressed by index."""

    def __init__(self, env_id: str, env_kwargs: dict[str, Any], n: int):
        from selfgym.executors.local import make_env

        self.env_id, self.env_kwargs = env_id, env_kwargs
        self.envs = [make_env(env_id, env_kwargs) for _ in range(n)]

    def reset(self, idx: int, seed: int | None, options: dict | None):
        return self.envs[idx].reset(seed=seed, options=options)

    def step(self, idx: int, action: str):
        return self.envs[idx].step(action)

    def rebuild(self, idx: int) -> bool:
        from selfgym.executors.local import make_env

        try:
            self.envs[idx].close()
        except Exception:  # noqa: BLE001 - replaced because it failed
            pass
        self.envs[idx] = make_env(self.env_id, self.env_kwargs)
        return True

    def where(self) -> dict[str, Any]:
        import ray

        return {"node_id": ray.get_runtime_context().get_node_id(), "pid": os.getpid()}

    def close(self) -> None:
        for e in self.envs:
            try:
                e.close()
            except Exception:  # noqa: BLE001
                pass


class RayActors(Transport):
    """``num_actors`` env actors × ``envs_per_actor`` envs on a Ray cluster (see module doc).

    Args:
        env_id, env_kwargs: what each actor builds with ``gymnasium.make``.
        num_actors: actors (placement-group bundles).
        envs_per_actor: envs per actor (slots = actors × envs).
        address: a running cluster (``"auto"``, ``"ray://..."``, ``"host:port"``); None joins an
            initialised Ray or starts a local one (shut down again by ``close``).
        num_cpus: CPU reserved per actor (fractions let many small actors share a core).
        resources: custom resources each actor needs (e.g. ``{"env_host": 0.1}``).
        strategy: placement-group strategy: ``"SPREAD"`` (default), ``"STRICT_SPREAD"``, ``"PACK"``.
    """

    name = "ray"

    def __init__(self, env_id: str, num_actors: int = 2, *, envs_per_actor: int = 1,
                 env_kwargs: dict[str, Any] | None = None, address: str | None = None,
                 num_cpus: float = 0.25, resources: dict[str, float] | None = None,
                 strategy: str = "SPREAD", init_kwargs: dict[str, Any] | None = None):
        ray = _ray()
        from ray.util.placement_group import placement_group
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        self._own_ray = False
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False, **(init_kwargs or {}))
            self._own_ray = True
        self.env_id, self.env_kwargs = env_id, dict(env_kwargs or {})
        self.envs_per_actor = envs_per_actor
        self.num_cpus, self.resources = num_cpus, dict(resources or {})
        self.slots = num_actors * envs_per_actor
        bundle = {"CPU": num_cpus, **self.resources}
        self.pg = placement_group([dict(bundle) for _ in range(num_actors)], strategy=strategy)
        ray.get(self.pg.ready(), timeout=REPAIR_TIMEOUT_S)
        self._cls = ray.remote(_EnvHost)
        self.actors = [
            self._new_actor(PlacementGroupSchedulingStrategy(self.pg, placement_group_bundle_index=a))
            for a in range(num_actors)
        ]
        self.replaced = 0

    def _new_actor(self, strategy: Any):
        return self._cls.options(num_cpus=self.num_cpus, resources=self.resources or None,
                                 max_concurrency=max(1, self.envs_per_actor), max_restarts=0,
                                 scheduling_strategy=strategy).remote(self.env_id, self.env_kwargs, self.envs_per_actor)

    def _where(self, slot: int) -> tuple[Any, int]:
        return self.actors[slot // self.envs_per_actor], slot % self.envs_per_actor

    def reset(self, slot, seed, options):
        actor, idx = self._where(slot)
        return actor.reset.remote(idx, seed, options)

    def step(self, slot, action):
        actor, idx = self._where(slot)
        return actor.step.remote(idx, action)

    def wait(self, tickets):
        ray = _ray()
        ready, rest = ray.wait(list(tickets), num_returns=1)
        if rest:
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            ready += more
        out = []
        for ref in ready:
            try:
                out.append((ref, ray.get(ref), None))
            except Exception as exc:  # noqa: BLE001 - actor death, or the env's own failure
                out.append((ref, None, exc))
        return out

    def repair(self, slot):
        ray = _ray()
        a = slot // self.envs_per_actor
        actor, idx = self._where(slot)
        try:
            return bool(ray.get(actor.rebuild.remote(idx), timeout=REPAIR_TIMEOUT_S))
        except Exception:  # noqa: BLE001 - the actor is gone: start a replacement anywhere
            pass
        try:
            ray.kill(actor, no_restart=True)
        except Exception:  # noqa: BLE001
            pass
        new = self._new_actor("SPREAD")
        try:
            ray.get(new.where.remote(), timeout=REPAIR_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - no room anywhere: the slot is gone
            return False
        self.actors[a] = new
        self.replaced += 1
        return True

    def placement(self) -> list[dict[str, Any]]:
        """Where each actor runs (node id and pid)."""
        ray = _ray()
        return ray.get([a.where.remote() for a in self.actors])

    def close(self):
        release_actors(self.actors, self.pg, self._own_ray)

