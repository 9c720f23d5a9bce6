"""Property-based fuzzing: any agent or customer text is handled without an exception."""

from __future__ import annotations

import json

import gymnasium as gym
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import selfgym  # noqa: F401 - registers the ids
from selfgym.envs.customer_service.aec import env as aec_env
from selfgym.envs.customer_service.data import load_domain_tasks
from selfgym.tools import ParseError, Reply, ToolCall

ENV = gym.make("selfgym/CustomerService-retail-v0")
TOOLS = {t["function"]["name"] for t in ENV.unwrapped.tools()}
TASK = load_domain_tasks("retail")[0]

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                           max_leaves=8)
calls = st.builds(lambda name, args: json.dumps({"name": name, "arguments": args}),
                  st.sampled_from(sorted(TOOLS) + ["reply", "nope", ""]),
                  st.dictionaries(st.sampled_from(["order_id", "user_id", "item_ids", "email", "reason", "x"]),
                                  json_values, max_size=4))
wrapped = calls.map(lambda c: f"<tool_call>{c}</tool_call>") | calls.map(
    lambda c: json.dumps({"tool_calls": [{"type": "function", "function": {"name": json.loads(c)["name"],
                                                                           "arguments": json.dumps(json.loads(c)["arguments"])}}]}))
actions = st.text(max_size=200) | calls | wrapped | calls.map(lambda c: c[: len(c) // 2])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(actions, min_size=1, max_size=4))
def test_any_agent_text_is_an_observation_never_an_exception(texts):
    ENV.reset(options={"task": TASK})
    for text in texts:
        obs, reward, terminated, truncated, info = ENV.step(text)
        assert ENV.observation_space.contains(obs) and reward in (0.0, 1.0)
        if "action_error" in info:
            assert isinstance(info["action_error"], str) and info["action_error"]
        if terminated or truncated:
            break


@settings(max_examples=150, deadline=None)
@given(actions)
def test_parsed_calls_name_a_tool_or_explain_the_error(text):
    conv = ENV.unwrapped.conversation
    for action in conv.tools.parse(text):
        assert isinstance(action, (ToolCall, Reply, ParseError)) or hasattr(action, "text")
        if isinstance(action, ToolCall):
            result = conv.tools.execute(action)
            assert result.ok or (result.error and result.content.startswith("Error:"))
        if isinstance(action, ParseError):
            assert action.message


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=80) | actions, min_size=1, max_size=6))
def test_aec_accepts_any_text_from_either_seat(texts):
    env = aec_env(domain="retail", max_steps=4)
    env.reset(seed=0)
    for text in texts:
        seat = env.agent_selection
        if env.terminations[seat] or env.truncations[seat]:
            break
        env.step(text)
        obs = env.observe(env.agent_selection)
        assert env.observation_space(env.agent_selection).contains(obs)
