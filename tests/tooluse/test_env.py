"""selfgym/ToolUse-v0: oracles, the exact-answer rule, the turn limit and the env contract."""

from __future__ import annotations

import json
import math

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import selfgym  # noqa: F401  (registers the ids)
from selfgym.envs.tooluse import build_tasks
from selfgym.envs.tooluse import tasks as rules
from selfgym.envs.tooluse.domains import DOMAINS
from selfgym.envs.tooluse.env import ToolUseEnv
from selfgym.errors import ConfigError, TaskError
from selfgym.types import Task

BUILTIN = rules.builtin_tasks()


@pytest.fixture()
def env():
    e = gym.make("selfgym/ToolUse-v0")
    yield e
    e.close()


def test_task_list_meets_the_spec():
    assert len(BUILTIN) >= 60
    assert len({t.id for t in BUILTIN}) == len(BUILTIN)
    assert len({t.payload["domain"] for t in BUILTIN}) >= 5
    for t in BUILTIN:
        oracle = t.payload["oracle"]
        assert oracle[-1]["name"] == "final_answer"
        assert len(oracle) - 1 >= 2, t.id  # two or more tool calls
        assert len(oracle) <= 10, t.id  # solvable within the default turn limit
        assert all(isinstance(v, (int, float)) for v in t.difficulty.values())
        assert t.difficulty["tool_calls"] == len(oracle) - 1


def test_shipped_file_matches_the_templates():
    assert build_tasks.main(["--check"]) == 0


def test_every_oracle_earns_reward_one(env):
    u = env.unwrapped
    for task in BUILTIN:
        obs, info = env.reset(options={"task": task.to_dict()})
        assert info["task_id"] == task.id
        assert [t["function"]["name"] for t in info["tools"]] == DOMAINS[task.payload["domain"]].toolset().names
        rewards, plan = [], u.oracle()
        terminated = truncated = False
        while not (terminated or truncated):
            action = u.cheat()  # the oracle's next action
            assert action == plan[len(rewards)]
            obs, reward, terminated, truncated, info = env.step(action)
            rewards.append(reward)
            assert "action_error" not in info, (task.id, info["action_error"], obs)
            assert all(r["ok"] for r in info["tool_results"]), (task.id, obs)
        assert terminated and not truncated and len(rewards) == len(plan), task.id
        assert rewards[-1] == 1.0 and sum(rewards) == 1.0, (task.id, obs)
        assert info["verdict"]["passed"] is True


def test_do_nothing_policy_earns_zero_at_the_turn_limit(env):
    obs, info = env.reset(options={"task": BUILTIN[0]})
    for turn in range(1, 11):
        obs, reward, terminated, truncated, info = env.step("")
        assert reward == 0.0 and not terminated
        assert "no tool call or final answer" in info["action_error"]
        assert truncated == (turn == 10)
    assert info["verdict"]["passed"] is False and info["verdict"]["reward"] == 0.0
    assert "Turn limit reached (10)" in obs


def test_max_turns_is_configurable():
    e = ToolUseEnv(max_turns=3)
    e.reset(options={"task": BUILTIN[0]})
    outs = [e.step('{"name": "nope", "arguments": {}}') for _ in range(3)]
    assert [o[3] for o in outs] == [False, False, True]


def test_wrong_answer_ends_with_zero_and_the_expected_answer(env):
    task = next(t for t in BUILTIN if t.payload["answer_type"] == "number")
    env.reset(options={"task": task})
    obs, reward, terminated, truncated, info = env.step(
        json.dumps({"name": "final_answer", "arguments": {"answer": task.payload["answer"] + 1}}))
    assert terminated and reward == 0.0
    assert f"expected answer was {task.payload['answer']}" in obs
    assert info["verdict"]["checks"][0]["expected"] == task.payload["answer"]


def test_agent_mistakes_are_error_observations_and_the_episode_goes_on(env):
    task = next(t for t in BUILTIN if t.payload["domain"] == "shop")
    env.reset(options={"task": task})
    steps = {
        '{"name": "get_prodct", "arguments": {"sku": "K-100"}}': "did you mean 'get_product'?",
        '{"name": "get_product", "arguments": {"sku": "K-100"': "not valid JSON",
        '{"name": "line_total", "arguments": {"sku": "K-100", "quantity": "many"}}': "must be an integer",
        '{"name": "line_total", "arguments": {"sku": "K-100", "quantity": 999}}': "only 12 unit(s) of Stainless Kettle",
        '{"name": "apply_coupon", "arguments": {"subtotal": 10, "code": "FLAT15"}}': "FLAT15 needs a subtotal",
    }
    for action, message in steps.items():
        obs, reward, terminated, truncated, info = env.step(action)
        assert message in obs and message in info["action_error"]
        assert reward == 0.0 and not terminated and not truncated
    obs, *_ , info = env.step('<tool_call>{"name": "get_product", "arguments": {"sku": "K-100"}}</tool_call>')
    assert "action_error" not in info and json.loads(obs.split("] ", 1)[1].split("\n")[0])["price"] == 34.9


def test_several_calls_in_one_turn_and_answer_in_the_same_message():
    task = next(t for t in BUILTIN if len(t.payload["oracle"]) >= 4)
    env = ToolUseEnv()
    env.reset(options={"task": task})
    calls = task.payload["oracle"]
    text = "".join(f"<tool_call>{json.dumps(c)}</tool_call>" for c in calls)
    obs, reward, terminated, truncated, info = env.step(text)
    assert terminated and reward == 1.0 and info["turn"] == 1
    assert len(info["tool_results"]) == len(calls) - 1


@pytest.mark.parametrize("expected, got, kind, ok", [
    (412.5, "412.50", "number", True), (412.5, "EUR 412.5", "number", True), (1234.5, "$1,234.50", "number", True),
    (412.5, 412.4, "number", False), (3, "3 or 4", "number", False), (7, True, "number", False),
    ("Tuesday", " tuesday. ", "text", True), ("Tuesday", "Wednesday", "text", False),
    ("aGVsbG8=", "aGVsbG8=", "exact", True), ("aGVsbG8=", "AGVSBG8=", "exact", False),
])
def test_exact_answer_rule(expected, got, kind, ok):
    assert rules.answers_match(expected, got, kind) is ok


def test_options_accept_task_dicts_ids_and_reject_foreign_tasks():
    env = ToolUseEnv()
    _, info = env.reset(options={"task": BUILTIN[5].id})
    assert info["task_id"] == BUILTIN[5].id
    with pytest.raises(TaskError, match="family"):
        env.reset(options={"task": Task("x", "arithmetic", "1+1")})
    with pytest.raises(TaskError, match="no ToolUse task"):
        env.reset(options={"task": "tooluse/none"})
    with pytest.raises(ConfigError, match="unknown domain"):
        ToolUseEnv(domains=["astrology"])


def test_task_set_and_generated_tasks_are_seeded_and_solvable():
    env = ToolUseEnv(domains=["dates", "dna"])
    assert {t.payload["domain"] for t in env.task_set()} == {"dates", "dna"}
    a, b = env.task_set(12, seed=7), env.task_set(12, seed=7)
    assert [t.to_dict() for t in a] == [t.to_dict() for t in b]
    assert [t.id for t in env.task_set(12, seed=8)] != [t.id for t in a]
    for task in a:
        env.reset(options={"task": task})
        for action in env.oracle():
            *_, reward, terminated, truncated, info = env.step(action)
        assert terminated and reward == 1.0


def test_difficulty_and_info_contract():
    env = ToolUseEnv(generated=True)
    obs, info = env.reset(seed=3)
    assert info["task_id"].startswith("tooluse/gen/")
    assert set(info["difficulty"]) == {"tool_calls", "distinct_tools", "level"}
    assert info["messages"][0]["role"] == "system" and info["messages"][1]["content"] == obs
    assert "Tools:" in obs and '"name": "final_answer"' in obs
    assert env.observation_space.contains(obs)
    made = gym.make("selfgym/ToolUse-v0", generated=True)
    check_env(made.unwrapped, skip_render_check=False)


@pytest.mark.parametrize("policy", ["raise", "mask"])
def test_infra_errors_inside_a_tool_are_never_a_zero_reward(policy):
    from selfgym.errors import VerifierError
    from selfgym.tools import ToolSet

    def broken(x: int) -> int:
        """A tool whose back end is down."""
        raise VerifierError("engine gone")

    env = ToolUseEnv(on_infra_error=policy)
    env.reset(options={"task": BUILTIN[0]})
    env.toolset = ToolSet([broken])  # a domain whose service failed
    action = '{"name": "broken", "arguments": {"x": 1}}'
    if policy == "raise":
        with pytest.raises(VerifierError, match="engine gone"):
            env.step(action)
    else:
        obs, reward, terminated, truncated, info = env.step(action)
        assert math.isnan(reward) and info["reward_valid"] is False and terminated


def test_tasks_kwarg_loads_a_jsonl_file(tmp_path):
    from selfgym.types import dump_jsonl

    path = tmp_path / "mine.jsonl"
    dump_jsonl(rules.generate(3, seed=11, domains=["cipher"]), path)
    env = ToolUseEnv(tasks=str(path))
    assert [t.id for t in env.task_set()] == [t.id for t in rules.generate(3, seed=11, domains=["cipher"])]
    _, info = env.reset(seed=0)
    assert info["task_id"].startswith("tooluse/gen/11/")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "family": "tooluse", "prompt": "p", "payload": {"domain": "units"}}) + "\n")
    with pytest.raises(TaskError, match="payload has no 'answer'"):
        ToolUseEnv(tasks=str(bad))
