"""`selfgym serve-env`: OpenEnv's protocol, through openenv-core's own client; sessions that die are reported."""

from __future__ import annotations

import json
import math

import gymnasium as gym
import pytest

pytest.importorskip("openenv.core")

from openenv.core.generic_client import GenericEnvClient

from selfgym.executors import ShadowOracle, drive
from selfgym.executors.envserver import EnvServers

from .helpers import start_serve_env

ENV_ID = "selfgym/ToolUse-v0"


@pytest.fixture()
def served():
    """`selfgym serve-env ENV_ID` as its own process on a loopback port; killed after the test."""
    url, proc = start_serve_env(ENV_ID, max_sessions=3)
    yield url, proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def test_openenv_client_plays_concurrent_sessions_like_local_envs(served):
    """Three sessions with different seeds, steps interleaved: each is its own env, equal to a local one."""
    url, _ = served
    seeds = [1, 2, 3]
    clients = [GenericEnvClient(base_url=url).sync() for _ in seeds]
    local = [gym.make(ENV_ID) for _ in seeds]
    try:
        for c in clients:
            c.connect()
        for c, env, seed in zip(clients, local, seeds, strict=True):
            first = c.reset(seed=seed)
            obs, info = env.reset(seed=seed)
            assert first.observation["text"] == obs
            assert first.observation["info"]["task_id"] == info["task_id"]
        assert len({e.unwrapped.task.id for e in local}) > 1, "different seeds should give different tasks"
        done = [False] * len(seeds)
        for _ in range(12):  # round-robin: one step per session in turn
            for k, (c, env) in enumerate(zip(clients, local, strict=True)):
                if done[k]:
                    continue
                action = env.unwrapped.cheat()
                remote = c.step({"text": action})
                obs, reward, terminated, truncated, _ = env.step(action)
                assert remote.observation["text"] == obs
                assert remote.reward == reward and remote.done == (terminated or truncated)
                done[k] = remote.done
        assert all(done)
        # a fourth session is refused at once, not queued: the server's first message says so
        from websockets.sync.client import connect

        with connect(url.replace("http://", "ws://") + "/ws") as ws:
            first = json.loads(ws.recv(timeout=30))
        assert first["type"] == "error" and first["data"]["code"] == "CAPACITY_REACHED"
    finally:
        for c in clients:
            c.close()


def test_a_server_that_dies_mid_run_gives_infra_errors_not_zeros(served):
    url, proc = served

    class KillAfter(ShadowOracle):
        calls = 0

        def act_episodes(self, keys, observations, infos):
            KillAfter.calls += 1
            if KillAfter.calls == 3:
                proc.kill()
                proc.wait(timeout=10)
            return super().act_episodes(keys, observations, infos)

    with EnvServers(url, 2, message_timeout_s=20) as ex:
        episodes = drive(ex, KillAfter(ENV_ID), 5, seed=0, env_id=ENV_ID, retries=1)
    assert sorted(e.metadata["job"] for e in episodes) == [0, 1, 2, 3, 4], "no episode may be lost"
    failed = [e for e in episodes if e.metadata["status"] == "infra_error"]
    assert failed, "episodes running when the server died must be reported"
    for e in failed:
        assert math.isnan(e.total_reward) and not e.success
        assert e.steps[-1].info["reward_valid"] is False
        assert e.steps[-1].info["verdict"]["status"] == "infra_error"
    for e in episodes:
        assert e.metadata["status"] == "infra_error" or e.total_reward == 1.0


class _Explodes(gym.Env):
    """Answers reset, then fails on the second step like an env whose verifier went away."""

    from selfgym.spaces import text_space

    observation_space = text_space(64)
    action_space = text_space(64)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return "start", {"task_id": "boom"}

    def step(self, action):
        self.t += 1
        if self.t >= 2:
            from selfgym.errors import SandboxError

            raise SandboxError("the sandbox engine went away")
        return f"step {self.t}", 0.0, False, False, {"task_id": "boom"}


def test_a_failing_session_is_reported_over_the_protocol():
    from selfgym.serve_env import make_app
    from selfgym.verifiers.service import BackgroundServer

    gym.register(id="selfgym-test/Explodes-v0", entry_point=_Explodes)
    try:
        with BackgroundServer(make_app("selfgym-test/Explodes-v0", max_sessions=2)) as server:
            client = GenericEnvClient(base_url=server.url).sync()
            with client:
                client.reset(seed=0)
                assert client.step({"text": "a"}).observation["text"] == "step 1"
                with pytest.raises(RuntimeError, match="EXECUTION_ERROR"):
                    client.step({"text": "b"})
                with pytest.raises(RuntimeError, match="failed earlier"):
                    client.step({"text": "c"})
            from selfgym.agents.scripted import ConstantAgent

            with EnvServers(server.url, 2) as ex:
                episodes = drive(ex, ConstantAgent("x"), 3, env_id="selfgym-test/Explodes-v0", retries=1)
        assert len(episodes) == 3
        for e in episodes:
            assert e.metadata["status"] == "infra_error" and e.metadata["attempts"] == 2
            assert math.isnan(e.total_reward)
            assert "sandbox engine went away" in e.metadata["errors"][-1]
    finally:
        gym.registry.pop("selfgym-test/Explodes-v0", None)


def test_nan_survives_the_wire():
    """JSON has no NaN: info values that are NaN come back as NaN, not as None or 0."""
    from selfgym.serve_env import _strip_nan, restore_nan

    info = {"verdict": {"reward": math.nan, "checks": [{"score": math.nan}, {"score": 1.0}]}, "x": 1}
    paths: list[str] = []
    sent = _strip_nan(info, "", paths)
    assert sent["verdict"]["reward"] is None and sorted(paths) == ["verdict/checks/0/score", "verdict/reward"]
    back = restore_nan(sent, paths)
    assert math.isnan(back["verdict"]["reward"]) and math.isnan(back["verdict"]["checks"][0]["score"])
    assert back["verdict"]["checks"][1]["score"] == 1.0 and back["x"] == 1
