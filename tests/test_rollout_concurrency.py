"""The rollout runner steps envs concurrently and still gives the sequential runner's episodes."""

from __future__ import annotations

import re
import threading

import gymnasium as gym
import pytest

import selfgym  # noqa: F401
from selfgym.agent import Agent
from selfgym.rollout import rollout, steps_concurrently


class CodeScript(Agent):
    """Deterministic: a wrong function first on every other task, then the task's solution."""

    name = "code-script"

    def __init__(self, solutions: dict[str, str]):
        self.solutions = solutions

    def act(self, observation, info):
        tid = info["task_id"]
        if len(info.get("messages", [])) <= 2 and sorted(self.solutions).index(tid) % 2 == 0:
            return "```python\ndef nothing():\n    return None\n```"
        return f"```python\n{self.solutions[tid].rstrip()}\n```"


class Remember(gym.Wrapper):
    """Keeps the last observation object, so a scripted agent can tell which env it acts for."""

    def reset(self, **kw):
        self.last_obs, info = self.env.reset(**kw)
        return self.last_obs, info

    def step(self, action):
        out = self.env.step(action)
        self.last_obs = out[0]
        return out


class WebScript(Agent):
    """Deterministic: the page's oracle action on tasks with an even seed, a click on the last
    element otherwise."""

    name = "web-script"

    def __init__(self, envs):
        self.envs = envs

    def act(self, observation, info):
        env = next(e for e in self.envs if e.last_obs is observation)
        if env.unwrapped.np_random_seed % 2 == 0:
            return env.unwrapped.cheat()
        ids = re.findall(r"\[(\d+)\]", observation if isinstance(observation, str) else observation["text"])
        return f"click('{ids[-1]}')" if ids else "click('1')"


def same_episodes(a, b) -> None:
    assert len(a) == len(b) > 0
    for x, y in zip(a, b, strict=True):
        assert (x.task_id, x.seed, x.metadata["job"], x.metadata["trial"]) == \
               (y.task_id, y.seed, y.metadata["job"], y.metadata["trial"])
        assert [(s.observation, s.action, s.reward, s.terminated, s.truncated) for s in x.steps] == \
               [(s.observation, s.action, s.reward, s.terminated, s.truncated) for s in y.steps]
        assert x.metadata["messages"] == y.metadata["messages"]


def test_web_episodes_match_sequential():
    envs = [Remember(gym.make("selfgym/Web-v0")) for _ in range(4)]
    try:
        conc = rollout(envs, WebScript(envs), 12, seed=5, trials=2)
        seq = rollout(envs, WebScript(envs), 12, seed=5, trials=2, concurrent_envs=False)
    finally:
        for e in envs:
            e.close()
    same_episodes(conc, seq)
    assert {e.success for e in seq} == {True, False}  # the steps mattered: some solved, some not


def test_code_episodes_match_sequential():
    pytest.importorskip("docker")
    envs = [gym.make("selfgym/CodeTask-v0", max_attempts=2) for _ in range(3)]
    try:
        tasks = envs[0].unwrapped.task_set(5)
        agent = CodeScript({t.id: t.payload["solution"] for t in tasks})
        conc = rollout(envs, agent, 5, tasks=tasks, seed=1)
        seq = rollout(envs, agent, 5, tasks=tasks, seed=1, concurrent_envs=False)
    finally:
        for e in envs:
            e.close()
    same_episodes(conc, seq)
    assert {e.success for e in seq} == {True}
    assert max(len(e.steps) for e in seq) == 2  # the wrong first answers were judged and corrected


class BarrierEnv(gym.Env):
    """Each step waits until ``parties`` steps are in flight at once (fails when run one by one)."""

    metadata: dict = {}

    def __init__(self, barrier: threading.Barrier | None, log: list):
        self.barrier, self.log = barrier, log
        self.observation_space = gym.spaces.Discrete(1)
        self.action_space = gym.spaces.Discrete(1)

    def reset(self, *, seed=None, options=None):
        self.t = 0
        return "start", {"task_id": f"t{seed}"}

    def step(self, action):
        self.log.append(threading.get_ident())
        if self.barrier is not None:
            self.barrier.wait()
        self.t += 1
        return f"obs{self.t}", 1.0, self.t >= 2, False, {"task_id": "x"}


class Echo(Agent):
    def act(self, observation, info):
        return "a"


def test_steps_of_one_batch_are_in_flight_together():
    log: list = []
    barrier = threading.Barrier(4, timeout=20)
    envs = [BarrierEnv(barrier, log) for _ in range(4)]
    eps = rollout(envs, Echo(), 8, seed=0)
    assert len(eps) == 8 and all(len(e.steps) == 2 for e in eps)
    assert threading.get_ident() not in log and len(set(log)) > 1


def test_opt_out_and_thread_bound_envs_step_in_the_calling_thread():
    log: list = []
    envs = [BarrierEnv(None, log) for _ in range(3)]
    rollout(envs, Echo(), 3, concurrent_envs=False)
    assert set(log) == {threading.get_ident()}
    log.clear()
    bound = BarrierEnv(None, log)
    bound.metadata = {"concurrent_steps": False}
    assert not steps_concurrently(bound) and steps_concurrently(envs[0])
    rollout([bound], Echo(), 2)
    assert set(log) == {threading.get_ident()}


class Broken(BarrierEnv):
    def step(self, action):
        raise RuntimeError("env broke")


def test_an_env_error_is_raised_after_the_other_steps_end():
    log: list = []
    envs = [BarrierEnv(None, log), Broken(None, []), BarrierEnv(None, log)]
    with pytest.raises(RuntimeError, match="env broke"):
        rollout(envs, Echo(), 3)
    assert len(log) == 2  # both healthy envs finished their step


def test_llamacpp_batch_gives_the_greedy_outputs_of_one_by_one_decoding():
    pytest.importorskip("xllamacpp")
    from selfgym.llm import SamplingParams
    from selfgym.llm.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend(n_parallel=8, threads=1)
    chats = [[{"role": "user", "content": f"What is {17 + i} times {23 + 2 * i}? Explain step by step."}]
             for i in range(8)]
    sampling = SamplingParams(temperature=0.0, max_tokens=24, seed=0)
    batched = backend.generate(chats, sampling)  # the first batch after start-up (where it differed)
    alone = [backend.generate([c], sampling)[0] for c in chats]
    assert [c.text for c in batched] == [c.text for c in alone]
    assert [c.token_ids for c in batched] == [c.token_ids for c in alone]
    assert all(c.token_ids for c in batched)
