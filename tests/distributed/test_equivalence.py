"""Every executor gives the same trajectories for the same seeds and policy, on one id of every family.

The policy is ``ShadowOracle`` with ``oracle_rate=0.8``: mostly each env's oracle ``cheat()``
(so episodes run to real verdicts), sometimes a seeded random string (the malformed-action
path). Observations, actions, rewards, verdicts and infos must match the in-process run
exactly; only timing fields may differ.
"""

from __future__ import annotations

import math

import pytest

from selfgym.run_cli import family_ids

from .helpers import ENV_KWARGS, comparable, start_serve_env

pytest.importorskip("ray")
pytest.importorskip("openenv.core")

EPISODES = 3
SEED = 11
#: served from their own process: a browser is bound to one thread of one process, and this
#: process already drives one (the in-process run and the shadow oracle)
def _own_process_server(env_id: str) -> bool:
    from selfgym.serve_env import thread_bound

    return thread_bound(env_id)


def _run(kind: str, env_id: str, **options):
    from selfgym.executors import ShadowOracle, drive, make_executor

    kwargs = ENV_KWARGS.get(env_id, {})
    policy = ShadowOracle(env_id, kwargs, oracle_rate=0.8)
    try:
        with make_executor(kind, env_id, 2, env_kwargs=kwargs, **options) as ex:
            return drive(ex, policy, EPISODES, seed=SEED, env_id=env_id, max_steps=30)
    finally:
        policy.close()


@pytest.mark.parametrize("env_id", family_ids())
def test_every_executor_gives_the_same_trajectories(env_id, ray_cluster):
    from selfgym.serve_env import make_app
    from selfgym.verifiers.service import BackgroundServer

    reference = _run("inprocess", env_id)
    assert len(reference) == EPISODES
    assert all(e.metadata["status"] == "ok" and not math.isnan(e.total_reward) for e in reference)
    assert any(e.total_reward > 0 for e in reference), "the oracle should solve some tasks"
    expected = comparable(reference)
    for kind in ("sync", "async"):
        assert comparable(_run(kind, env_id)) == expected, kind
    assert comparable(_run("ray", env_id, num_cpus=0.1, resources={"worker": 0.1})) == expected, "ray"
    if _own_process_server(env_id):
        url, proc = start_serve_env(env_id, ENV_KWARGS.get(env_id), max_sessions=2)
        try:
            assert comparable(_run("envserver", env_id, urls=[url])) == expected, "envserver"
        finally:
            proc.kill()
            proc.wait(timeout=10)
        return
    with BackgroundServer(make_app(env_id, ENV_KWARGS.get(env_id), max_sessions=2)) as server:
        assert comparable(_run("envserver", env_id, urls=[server.url])) == expected, "envserver"


def test_inprocess_executor_records_what_rollout_records():
    """The shared driver writes the same Episodes as selfgym.rollout for a plain agent."""
    import gymnasium as gym

    from selfgym.agents.scripted import ConstantAgent
    from selfgym.executors import InProcess, drive
    from selfgym.rollout import rollout

    env_id = "selfgym/ToolUse-v0"
    envs = [gym.make(env_id) for _ in range(2)]
    ours = drive(InProcess(env_id, envs=[gym.make(env_id) for _ in range(2)]), ConstantAgent("hello"), 4,
                 seed=5, env_id=env_id, max_steps=4)
    theirs = rollout(envs, ConstantAgent("hello"), 4, seed=5, env_id=env_id, max_steps=4)
    for e in ours:
        for key in ("status", "attempts", "executor"):
            e.metadata.pop(key)
    assert comparable(ours) == comparable(theirs)


def test_ray_actors_spread_over_nodes(ray_cluster):
    """The SPREAD placement group puts one actor on each worker node instead of packing one."""
    from selfgym.executors.ray_exec import RayActors

    with RayActors("selfgym/Arithmetic-v0", 3, num_cpus=0.1, resources={"worker": 0.1}) as ex:
        nodes = {p["node_id"] for p in ex.placement()}
    assert len(nodes) == 3


def test_cli_runs_on_a_ray_cluster(ray_cluster, tmp_path):
    """`selfgym run --executor ray --address ...` joins the cluster and writes the usual run folder."""
    import json
    import os
    import subprocess
    import sys

    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "selfgym.cli", "run", "selfgym/Arithmetic-v0", "--agent", "constant",
         "--executor", "ray", "--address", ray_cluster.address, "--episodes", "3", "--batch", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=240, env={**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rows = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    assert sorted(r["metadata"]["job"] for r in rows) == [0, 1, 2]
    assert all(r["metadata"]["executor"] == "ray" and r["metadata"]["status"] == "ok" for r in rows)
