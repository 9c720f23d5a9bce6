"""Fuzzing the env with arbitrary actions: never an exception, always an observation in the space."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from selfgym.envs.tooluse import tasks as rules
from selfgym.envs.tooluse.domains import DOMAINS
from selfgym.envs.tooluse.env import ToolUseEnv

ENV = ToolUseEnv(max_turns=4)
TASKS = {d: next(t for t in rules.builtin_tasks() if t.payload["domain"] == d) for d in sorted(DOMAINS)}
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                      max_leaves=6)


@st.composite
def calls(draw, domain):
    names = DOMAINS[domain].toolset().names + ["final_answer", "nope"]
    name = draw(st.sampled_from(names))
    params = []
    if name in DOMAINS[domain].toolset():
        params = list(DOMAINS[domain].toolset().tools[name].parameters["properties"])
    keys = st.sampled_from(params + ["extra"]) if params else st.text(max_size=5)
    args = draw(st.dictionaries(keys, values, max_size=4))
    form = draw(st.sampled_from(["plain", "tagged", "openai"]))
    body = json.dumps({"name": name, "arguments": args})
    if form == "tagged":
        return f"<tool_call>{body}</tool_call>"
    if form == "openai":
        return json.dumps({"tool_calls": [{"function": {"name": name, "arguments": json.dumps(args)}}]})
    return body


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_actions_never_break_the_env(data):
    domain = data.draw(st.sampled_from(sorted(TASKS)))
    obs, info = ENV.reset(options={"task": TASKS[domain]})
    for _ in range(4):
        action = data.draw(calls(domain) | st.text(max_size=200))
        obs, reward, terminated, truncated, info = ENV.step(action)
        assert ENV.observation_space.contains(obs)
        assert reward in (0.0, 1.0)
        assert info["turn"] <= 4
        if "action_error" in info:
            assert info["action_error"] and "Error" in obs
        if terminated or truncated:
            assert info["verdict"]["reward"] == reward
            break
    else:
        raise AssertionError("the turn limit did not end the episode")
