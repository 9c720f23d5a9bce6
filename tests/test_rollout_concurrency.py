"""The rollout runner steps envs concurrently and still gives the sequential runner's episodes."""

from __future__ import annotations

import re
import threading
import time

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
        env = next(e for e in self.envs if getattr(e, "last_obs", None) is observation)
        if env.unwrapped.np_random_seed % 2 == 0:
            return env.unwrapped.cheat()
        ids = re.findall(r"\[(\d+)\]", observation if isinstance(observation, str) else observation["text"])
        return f"click('{ids[-1]}')" if ids else "click('1')"


def by_job(episodes):
    return sorted(episodes, key=lambda e: (e.metadata["job"], e.metadata["trial"]))


def same_episodes(a, b) -> None:
    """The same episodes (finishing order aside: with overlap it depends on timing)."""
    assert len(a) == len(b) > 0
    for x, y in zip(by_job(a), by_job(b), strict=True):
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
    eps = rollout(envs, Echo(), 8, seed=0, overlap=False)
    assert len(eps) == 8 and all(len(e.steps) == 2 for e in eps)
    assert threading.get_ident() not in log and len(set(log)) > 1


def test_opt_out_steps_in_the_calling_thread():
    log: list = []
    envs = [BarrierEnv(None, log) for _ in range(3)]
    eps = rollout(envs, Echo(), 3, concurrent_envs=False)
    assert len(eps) == 3 and set(log) == {threading.get_ident()}


class Affine(gym.Env):
    """Bound to the thread of its first reset, like a Playwright page: any call from another
    thread fails. Steps wait on a barrier so that the envs of a run must step concurrently."""

    metadata = {"concurrent_steps": False}

    def __init__(self, barrier: threading.Barrier | None = None, made_on: int | None = None):
        self.barrier, self.owner, self.made_on = barrier, None, made_on
        self.calls: list[int] = []
        self.closed_on: int | None = None
        self.observation_space = gym.spaces.Discrete(1)
        self.action_space = gym.spaces.Discrete(1)

    def _check(self):
        me = threading.get_ident()
        self.calls.append(me)
        if self.owner is None:
            self.owner = me
        if me != self.owner:
            raise RuntimeError("called from a thread that does not own this env")

    def reset(self, *, seed=None, options=None):
        self._check()
        self.t = 0
        return f"start {seed}", {"task_id": f"t{seed}"}

    def step(self, action):
        self._check()
        if self.barrier is not None:
            self.barrier.wait()
        self.t += 1
        return f"obs{self.t}", 1.0, self.t >= 2, False, {"task_id": "x"}

    def close(self):
        from selfgym.executors.threads import on_own_thread

        def close_here():
            self._check()
            self.closed_on = threading.get_ident()

        on_own_thread(self, close_here)


def test_a_thread_bound_env_steps_only_on_its_own_thread_and_concurrently():
    from selfgym.executors.threads import owner_thread

    barrier = threading.Barrier(3, timeout=20)
    envs = [Affine(barrier) for _ in range(3)]
    assert not steps_concurrently(envs[0])
    for overlap in (True, False):  # a second run finds each env on the same thread
        eps = rollout(envs, Echo(), 6, seed=0, overlap=overlap)
        assert len(eps) == 6 and all(e.total_reward == 2.0 for e in eps)
    owners = [e.owner for e in envs]
    assert len(set(owners)) == 3 and threading.get_ident() not in owners
    assert all(set(e.calls) == {e.owner} for e in envs)
    assert [owner_thread(e).thread.ident for e in envs] == owners
    for e in envs:
        e.barrier = None
    rollout(envs, Echo(), 3, concurrent_envs=False)  # sequential: still each on its own thread
    assert all(set(e.calls) == {e.owner} for e in envs)
    for e in envs:
        e.close()  # called here, run on the env's thread
    assert [e.closed_on for e in envs] == owners


def test_env_factories_are_made_stepped_and_closed_on_their_threads():
    made: list[Affine] = []

    def factory():
        env = Affine(made_on=threading.get_ident())
        env._check()  # bound to the thread that made it
        made.append(env)
        return env

    eps = rollout([factory, factory], Echo(), 4, seed=3)
    assert len(eps) == 4 and len(made) == 2
    for env in made:
        assert env.made_on == env.owner == env.closed_on != threading.get_ident()
        assert set(env.calls) == {env.owner}
    assert made[0].owner != made[1].owner
    before = threading.active_count()

    def broken():
        raise RuntimeError("cannot make the env")

    with pytest.raises(RuntimeError, match="cannot make the env"):  # loud, and no thread left behind
        rollout([factory, broken], Echo(), 2)
    assert threading.active_count() == before and made[-1].closed_on == made[-1].owner


class Slow(BarrierEnv):
    """A step that takes ``delay`` seconds, or until ``release`` is set."""

    def __init__(self, log, delay=0.0, release: threading.Event | None = None, patience=20.0):
        super().__init__(None, log)
        self.delay, self.release, self.patience = delay, release, patience

    def step(self, action):
        if self.release is not None:
            if not self.release.wait(self.patience):
                raise TimeoutError("no agent call came while this env was stepping")
        else:
            time.sleep(self.delay)
        return super().step(action)


class Releasing(Agent):
    """Opens ``gate`` once it is asked to act on a second observation: only possible while the
    gated env is still inside its step when generation overlaps the steps."""

    def __init__(self, gate: threading.Event):
        self.gate, self.batches = gate, []

    def act_batch(self, observations, infos):
        self.batches.append(list(observations))
        if "obs1" in observations:
            self.gate.set()
        return ["a"] * len(observations)


def test_the_agent_acts_for_ready_envs_while_another_still_steps():
    gate = threading.Event()
    log: list = []
    envs = [BarrierEnv(None, log), Slow(log, release=gate)]
    agent = Releasing(gate)
    eps = rollout(envs, agent, 2, seed=0)
    assert len(eps) == 2 and all(e.total_reward == 2.0 for e in eps)
    assert agent.batches[0] == ["start", "start"] and ["obs1"] in agent.batches
    gate.clear()
    with pytest.raises(TimeoutError, match="no agent call"):  # in lockstep the gate never opens
        rollout([BarrierEnv(None, []), Slow([], release=gate, patience=2)], Releasing(gate), 2, seed=0, overlap=False)


class Broken(BarrierEnv):
    def step(self, action):
        raise RuntimeError("env broke")


@pytest.mark.parametrize("overlap", [True, False])
def test_an_env_error_is_raised_after_the_other_steps_end(overlap):
    log: list = []
    envs = [Slow(log, delay=0.3), Broken(None, []), Slow(log, delay=0.3)]
    t0 = time.perf_counter()
    with pytest.raises(RuntimeError, match="env broke"):
        rollout(envs, Echo(), 3, overlap=overlap)
    assert len(log) == 2  # both healthy envs finished their step, none started another
    assert time.perf_counter() - t0 < 15


def test_an_error_on_a_thread_bound_env_does_not_hang_the_run():
    class BrokenAffine(Affine):
        def step(self, action):
            self._check()
            raise RuntimeError("bound env broke")

    envs = [Affine(), BrokenAffine(), Affine()]
    with pytest.raises(RuntimeError, match="bound env broke"):
        rollout(envs, Echo(), 6)
    eps = rollout([envs[0], envs[2]], Echo(), 2)  # the other envs and their threads still work
    assert len(eps) == 2 and all(set(e.calls) == {e.owner} for e in (envs[0], envs[2]))


class Delayed(gym.Wrapper):
    """Steps that take ``delay`` seconds (longer than the runner's linger, so that with overlap
    the model is called for the other envs meanwhile; the episodes must not change), their
    (start, end) times appended to ``spans``."""

    def __init__(self, env, spans: list, delay: float):
        super().__init__(env)
        self.spans, self.delay = spans, delay

    def step(self, action):
        t0 = time.perf_counter()
        time.sleep(self.delay)
        out = self.env.step(action)
        self.spans.append((t0, time.perf_counter()))
        return out


class TimedBackend:
    """A backend whose ``generate`` calls' (start, end) times are appended to ``spans``."""

    def __init__(self, inner, spans: list):
        self.inner, self.name, self.spans = inner, inner.name, spans

    def generate(self, chats, sampling=None):
        t0 = time.perf_counter()
        out = self.inner.generate(chats, sampling)
        self.spans.append((t0, time.perf_counter()))
        return out


def overlapping(a: list, b: list) -> int:
    return sum(1 for s0, s1 in a for g0, g1 in b if s0 < g1 and g0 < s1)


@pytest.mark.model
def test_default_model_greedy_episodes_are_the_same_with_and_without_overlap():
    """Greedy decoding gives the same episodes whichever envs share a model call.

    llama.cpp's prompt cache is turned off here: a later turn that re-reads the slot's cached
    earlier turn (keys and values computed one token at a time while decoding) can pick another
    near-tied token than one that recomputes the whole prompt, and which slot holds what depends
    on the server's history, so even two lockstep runs in one process may differ with it on
    (docs/BENCHMARKS.md, "Env steps that overlap generation").
    """
    pytest.importorskip("xllamacpp")
    from selfgym.agents.llm import LLMAgent
    from selfgym.llm import SamplingParams
    from selfgym.llm.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend(n_parallel=8, threads=1, cache_prompt=False)
    sampling = SamplingParams(temperature=0.0, max_tokens=24, seed=0)
    steps: dict[bool, list] = {True: [], False: []}
    calls: dict[bool, list] = {True: [], False: []}
    runs = {}
    for overlap in (True, False):
        envs = [Delayed(gym.make("selfgym/Arithmetic-v0", level=2, max_attempts=3), steps[overlap], delay)
                for delay in (0.0, 0.7, 1.0)]
        agent = LLMAgent(TimedBackend(backend, calls[overlap]), sampling)
        runs[overlap] = rollout(envs, agent, 4, seed=21, overlap=overlap)
    same_episodes(runs[True], runs[False])
    assert max(len(e.steps) for e in runs[True]) > 1  # later turns re-read earlier ones
    for a, b in zip(by_job(runs[True]), by_job(runs[False]), strict=True):
        assert [s.token_ids for s in a.steps] == [s.token_ids for s in b.steps]
        assert all(s.token_ids for s in a.steps)
    # the model decoded while env steps ran with overlap, never in lockstep
    assert overlapping(steps[True], calls[True]) > 0 and overlapping(steps[False], calls[False]) == 0


@pytest.mark.browser
def test_two_miniwob_envs_step_concurrently_in_real_chromium():
    pytest.importorskip("playwright")
    from selfgym.executors.threads import owner_thread

    envs = [Remember(gym.make("selfgym/MiniWoB-click-button-v0")) for _ in range(2)]
    log: list[tuple[int | None, float, float]] = []

    class Timed(gym.Wrapper):
        def step(self, action):
            t0 = time.perf_counter()
            out = self.env.step(action)
            log.append((threading.get_ident(), t0, time.perf_counter()))
            return out

    def steps_side_by_side() -> int:
        names = sorted({name for name, _, _ in log})
        spans = [[(t0, t1) for name, t0, t1 in log if name == n] for n in names]
        return overlapping(spans[0], spans[1]) if len(spans) == 2 else 0

    wrapped = [Timed(e) for e in envs]
    try:
        over = rollout(wrapped, WebScript(envs), 6, seed=40)
        threads = [owner_thread(e) for e in envs]
        assert all(t is not None for t in threads) and threads[0] is not threads[1]
        assert {ident for ident, _, _ in log} == {t.thread.ident for t in threads}
        assert steps_side_by_side() > 0  # the two pages were stepped at the same time
        log.clear()
        seq = rollout(wrapped, WebScript(envs), 6, seed=40, concurrent_envs=False)
        assert steps_side_by_side() == 0
    finally:
        for e in wrapped:
            e.close()
    same_episodes(over, seq)
    assert {e.success for e in over} == {True, False}  # the oracle on even seeds, a wrong click on odd
    assert all(owner_thread(e) is None for e in envs)  # closing ended each env's thread
    assert all(not t.thread.is_alive() for t in threads)


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
