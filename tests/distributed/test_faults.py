"""Faults on a multi-node Ray cluster: an actor killed, a node removed, mid-run. No episode is lost or scored 0."""

from __future__ import annotations

import math

import pytest

ray = pytest.importorskip("ray")

from selfgym.executors import ShadowOracle, drive  # noqa: E402
from selfgym.executors.ray_exec import RayActors  # noqa: E402

ENV_ID = "selfgym/ToolUse-v0"  # multi-step episodes, so faults land mid-episode


class _FaultAt(ShadowOracle):
    """The oracle, which also pulls the trigger once, on its ``at``-th batch of actions."""

    def __init__(self, trigger, at: int = 3):
        super().__init__(ENV_ID)
        self.trigger, self.at, self.calls = trigger, at, 0

    def act_episodes(self, keys, observations, infos):
        self.calls += 1
        if self.calls == self.at:
            self.trigger()
        return super().act_episodes(keys, observations, infos)


def _check(episodes, n: int) -> None:
    assert sorted(e.metadata["job"] for e in episodes) == list(range(n)), "every job has exactly one episode"
    for e in episodes:
        if e.metadata["status"] == "ok":
            assert e.total_reward == 1.0  # the oracle's episodes, whole
        else:
            assert math.isnan(e.total_reward) and e.steps[-1].info["verdict"]["status"] == "infra_error"


def test_killed_actor_episodes_are_retried(ray_cluster):
    with RayActors(ENV_ID, 3, num_cpus=0.1, resources={"worker": 0.1}) as ex:
        policy = _FaultAt(lambda: ray.kill(ex.actors[0], no_restart=True))
        episodes = drive(ex, policy, 8, seed=0, env_id=ENV_ID)
        assert ex.replaced == 1
    _check(episodes, 8)
    assert all(e.metadata["status"] == "ok" for e in episodes)
    assert max(e.metadata["attempts"] for e in episodes) == 2  # the killed actor's episode ran again
    assert any("RayActorError" in err or "ActorDied" in err for e in episodes for err in e.metadata.get("errors", []))


def test_without_retries_a_killed_actor_is_an_infra_error(ray_cluster):
    with RayActors(ENV_ID, 2, num_cpus=0.1, resources={"worker": 0.1}) as ex:
        policy = _FaultAt(lambda: ray.kill(ex.actors[1], no_restart=True))
        episodes = drive(ex, policy, 4, seed=0, env_id=ENV_ID, retries=0)
    _check(episodes, 4)
    failed = [e for e in episodes if e.metadata["status"] == "infra_error"]
    assert len(failed) == 1 and failed[0].metadata["attempts"] == 1
    assert failed[0].steps[-1].info["reward_valid"] is False and not failed[0].success


def test_removed_node_loses_nothing(ray_cluster):
    """A whole node goes away mid-run (its actors with it); a fresh node joins afterwards."""
    node = ray_cluster.worker_nodes_list.pop(0)
    try:
        with RayActors(ENV_ID, 3, num_cpus=0.1, resources={"worker": 0.1}) as ex:
            on_node = [i for i, p in enumerate(ex.placement()) if p["node_id"] == node.node_id]
            assert on_node, "SPREAD put an actor on every worker node"
            policy = _FaultAt(lambda: ray_cluster.remove_node(node))
            episodes = drive(ex, policy, 9, seed=0, env_id=ENV_ID)
            assert ex.replaced >= 1
        _check(episodes, 9)
        assert all(e.metadata["status"] == "ok" for e in episodes)
        assert any(e.metadata["attempts"] == 2 for e in episodes)
    finally:
        ray_cluster.worker_nodes_list.append(ray_cluster.add_node(num_cpus=1, resources={"worker": 1},
                                                                  object_store_memory=100 * 1024 * 1024,
                                                                  node_ip_address="127.0.0.1"))
        ray_cluster.wait_for_nodes()


def test_verification_survives_a_lost_node_pool(ray_cluster):
    from selfgym.verifiers.service import RaySandboxPool

    pool = RaySandboxPool(nodes=2, backend="process", pool_size=1, num_cpus=0.1, resources={"worker": 0.1})
    try:
        assert pool.run({"m.py": "print(1)"}, ["python3", "m.py"]).stdout == "1\n"
        ray.kill(pool.actors[0], no_restart=True)
        outs = [pool.run({"m.py": f"print({k})"}, ["python3", "m.py"]).stdout for k in range(4)]
        assert outs == [f"{k}\n" for k in range(4)]
        assert pool.replaced == 1
    finally:
        pool.close()
