"""verifiers (0.3.1, --no-deps): a multi-turn vf environment over selfgym ids, rubric = the env's reward.

Rollouts run through verifiers' own ``Environment.evaluate`` with its OpenAI chat client against
the default model's llama.cpp server (an OpenAI-compatible server on loopback).
"""

import json
import math

import gymnasium as gym
import pytest

from selfgym.errors import DependencyError

try:
    from selfgym.integrations import verifiers_env as ve
except DependencyError as exc:  # verifiers is installed by scripts/setup.sh
    pytest.skip(str(exc), allow_module_level=True)

vf = ve.vf


def evaluate(env, client, model, **kw):
    """``env.evaluate`` in a fresh event loop on a thread of its own (verifiers refuses to start
    its loop inside one already running on the caller's thread), closing the client after."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    async def go():
        try:
            return await env.evaluate(client, model, **kw)
        finally:
            await client.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result()


@pytest.fixture(scope="module")
def client():
    from selfgym.llm import make_backend

    backend = make_backend("default")
    # One client per evaluate_sync call: each call runs its own event loop.
    return lambda: ve.chat_client(backend.server.url), backend.model


def test_dataset_rows_are_the_envs_first_chats():
    env = ve.load_environment("selfgym/Arithmetic-v0", n=3, env_kwargs={"level": 1})
    assert isinstance(env, vf.MultiTurnEnv) and isinstance(env.rubric, vf.Rubric) or env.rubric
    ds = env.get_eval_dataset()
    assert len(ds) == 3
    ref = gym.make("selfgym/Arithmetic-v0", level=1)
    for row in ds:
        task = json.loads(row["info"]["selfgym_task"])
        _, info = ref.reset(options={"task": task})
        assert row["prompt"] == info["messages"]


@pytest.mark.model
def test_default_model_rollouts_rewards_are_the_envs(client):
    c, model = client
    env = ve.SelfgymEnv("selfgym/Arithmetic-v0", n=3, env_kwargs={"level": 1, "max_attempts": 2})
    out = evaluate(env, c(), model, sampling_args={"max_tokens": 48, "temperature": 1.0}, num_examples=3,
                            rollouts_per_example=1, max_concurrent=3)
    states = out["outputs"]
    assert len(states) == 3
    for st in states:
        st = dict(st)
        completion = st["completion"]
        replies = [m["content"] for m in completion if m["role"] == "assistant"]
        assert 1 <= len(replies) <= 2 and st.get("error") is None
        # Replay the model's replies through a fresh env: same observations, same reward.
        info = st["info"] if isinstance(st["info"], dict) else json.loads(st["info"])
        ref = gym.make("selfgym/Arithmetic-v0", level=1, max_attempts=2)
        _, rinfo = ref.reset(seed=info["seed"], options={"task": json.loads(info["selfgym_task"])})
        total = 0.0
        for r in replies:
            _, reward, term, trunc, rinfo = ref.step(r)
            total += reward
        assert term or trunc  # the env, not a turn cap, ended the rollout
        assert [m["content"] for m in completion] == [m["content"] for m in rinfo["messages"][len(st["prompt"]):]]
        assert st["reward"] == total
        assert st["metrics"]["reward_valid"] == 1.0
        assert st["metrics"]["passed"] == float(bool(rinfo["verdict"]["passed"]))


@pytest.mark.model
def test_infrastructure_error_is_a_failed_rollout_never_zero(client, oracle_code_id, dead_sandbox):
    c, model = client
    env = ve.SelfgymEnv(oracle_code_id, n=1, env_kwargs={"max_attempts": 1, "sandbox": dead_sandbox})
    out = evaluate(env, c(), model, sampling_args={"max_tokens": 16}, num_examples=1, rollouts_per_example=1)
    st = dict(out["outputs"][0])
    assert "InfraError" in str(st.get("error")) and "infrastructure" in str(st["error"])
    assert math.isnan(st["reward"]) and st["metrics"]["reward_valid"] == 0.0
    live = ve.SelfgymEnv(oracle_code_id, n=1, env_kwargs={"max_attempts": 1, "sandbox": "process"})
    out = evaluate(live, c(), model, sampling_args={"max_tokens": 16}, num_examples=1, rollouts_per_example=1)
    st = dict(out["outputs"][0])
    assert st["reward"] == 1.0 and st["metrics"]["passed"] == 1.0


def test_structured_tool_calls_become_the_envs_action_texts():
    """A server that parses tool calls returns them apart from the text: none is dropped."""
    code = gym.make("selfgym/CodeTask-v0")
    call = vf.ToolCall(id="1", name="submit_solution", arguments='{"code": "def f():\\n    return 1"}')
    assert ve._reply_actions(vf.AssistantMessage(content="", tool_calls=[call]), code) == [
        "```python\ndef f():\n    return 1\n```"]
    assert ve._reply_actions(vf.AssistantMessage(content="plain text"), code) == ["plain text"]
    tools = gym.make("selfgym/ToolUse-v0")
    calls = [vf.ToolCall(id="1", name="no_such_tool", arguments='{"x": 1}'),
             vf.ToolCall(id="2", name="final_answer", arguments='{"answer": "42"}')]
    texts = ve._reply_actions(vf.AssistantMessage(content="", tool_calls=calls), tools)
    assert [json.loads(t)["name"] for t in texts] == ["no_such_tool", "final_answer"]
