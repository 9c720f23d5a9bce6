"""Whole episodes: every task's oracle reaches reward 1, doing nothing gets 0, tasks are data."""

from __future__ import annotations

import json
import math

import gymnasium as gym
import pytest

import selfgym  # noqa: F401 - registers the ids
from selfgym.envs.customer_service.data import DOMAINS, LICENSE, load_base_db, load_domain_tasks
from selfgym.envs.customer_service.db import Database, full_hash
from selfgym.envs.customer_service.reward import evaluate, is_no_change
from selfgym.errors import ConfigError, TaskError, VerifierError
from selfgym.types import Status, dump_jsonl


def play(env, task, policy):
    """Run one episode; ``policy(env)`` gives each action. Returns (last reward, last info, steps)."""
    obs, info = env.reset(options={"task": task})
    steps, done = 0, False
    while not done:
        obs, reward, terminated, truncated, info = env.step(policy(env))
        assert env.observation_space.contains(obs)
        steps += 1
        done = terminated or truncated
    return reward, info, steps


def test_the_tau2_data_loads_with_its_licence():
    retail, airline = load_domain_tasks("retail"), load_domain_tasks("airline")
    assert len(retail) == 114 and len(airline) == 50
    assert {t.payload["split"] for t in retail} == {"train", "test"}
    assert all(t.license == LICENSE == "MIT" for t in retail + airline)
    assert all(t.difficulty["gold_actions"] == len(t.payload["actions"]) for t in retail)
    assert len(load_base_db("retail")["orders"]) == 1000 and len(load_base_db("airline")["reservations"]) == 2000


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_oracle_reaches_reward_one_and_leaves_the_base_untouched(domain):
    before = full_hash(load_base_db(domain))
    env = gym.make(f"selfgym/CustomerService-{domain}-v0", include_no_change=True)
    tasks = env.unwrapped.task_set()
    assert len(tasks) == len(load_domain_tasks(domain))
    for task in tasks:
        reward, info, steps = play(env, task, lambda e: e.unwrapped.cheat())
        assert reward == 1.0, (task.id, info["verdict"])
        assert info["outcome"] == "user_stop" and info["verdict"]["passed"]
        assert steps == len(task.payload["actions"]) + 1
    assert full_hash(load_base_db(domain)) == before


@pytest.mark.parametrize("domain", DOMAINS)
def test_doing_nothing_gets_zero_on_every_default_task(domain):
    env = gym.make(f"selfgym/CustomerService-{domain}-v0")
    tasks = env.unwrapped.task_set()
    assert len(tasks) >= 30 and not any(is_no_change(t) for t in tasks)
    for task in tasks:
        reward, info, _ = play(env, task, lambda e: "")
        assert reward == 0.0, task.id
        assert info["verdict"]["status"] == "task_failure"


def test_no_change_tasks_are_the_ones_nothing_can_fail():
    """The excluded tasks are exactly those a silent policy passes (their gold leaves the database as it is)."""
    env = gym.make("selfgym/CustomerService-airline-v0", include_no_change=True)
    excluded = [t for t in env.unwrapped.task_set() if is_no_change(t)]
    assert excluded
    for task in excluded:
        assert play(env, task, lambda e: "")[0] == 1.0


def test_reward_needs_both_the_database_and_the_outputs():
    task = next(t for t in load_domain_tasks("retail") if t.payload["outputs"] and t.difficulty["write_actions"])
    env = gym.make("selfgym/CustomerService-retail-v0")
    env.reset(options={"task": task})
    for action in task.payload["actions"]:
        env.step(json.dumps({"name": action["name"], "arguments": action["arguments"]}))
    *_, info = env.step("All done. Is there anything else I can help you with?")
    checks = {c["name"]: c["passed"] for c in info["verdict"]["checks"]}
    assert checks["database"] and not all(checks.values()) and info["verdict"]["reward"] == 0.0
    # The outputs alone, without the database changes, fail too.
    env.reset(options={"task": task})
    *_, info = env.step(f"{', '.join(task.payload['outputs'])}. Anything else?")
    checks = {c["name"]: c["passed"] for c in info["verdict"]["checks"]}
    assert not checks["database"] and all(v for k, v in checks.items() if k != "database")


def test_tasks_round_trip_through_json_lines(tmp_path):
    tasks = load_domain_tasks("airline")[:5]
    path = tmp_path / "airline.jsonl"
    assert dump_jsonl(tasks, path) == 5
    env = gym.make("selfgym/CustomerService-retail-v0", tasks=str(path), include_no_change=True)
    assert [t.id for t in env.unwrapped.task_set()] == [t.id for t in tasks]
    reward, _, _ = play(env, env.unwrapped.task_set()[2], lambda e: e.unwrapped.cheat())
    assert reward == 1.0


def test_reset_accepts_a_task_dict_of_the_other_domain_and_rejects_foreign_tasks():
    env = gym.make("selfgym/CustomerService-retail-v0")
    airline = load_domain_tasks("airline")[2]
    obs, info = env.reset(options={"task": airline.to_dict()})
    assert info["task_id"] == airline.id and "book_reservation" in {t["function"]["name"] for t in info["tools"]}
    assert "Airline Agent Policy" in obs
    with pytest.raises(TaskError, match="customer_service"):
        env.reset(options={"task": {"id": "x", "family": "arithmetic", "prompt": "1+1"}})
    with pytest.raises(ConfigError, match="domain"):
        gym.make("selfgym/CustomerService-retail-v0", domain="shop")


def test_split_and_task_set_sampling():
    env = gym.make("selfgym/CustomerService-retail-v0", split="test").unwrapped
    assert {t.payload["split"] for t in env.task_set()} == {"test"}
    a, b = env.task_set(10, seed=3), env.task_set(10, seed=3)
    assert [t.id for t in a] == [t.id for t in b] and len({t.id for t in a}) == 10
    assert [t.id for t in env.task_set(10, seed=4)] != [t.id for t in a]


def test_a_crashing_gold_replay_is_an_infra_error_never_a_zero():
    task = load_domain_tasks("retail")[0]
    task.payload["actions"] = [{"name": "get_user_details"}]  # malformed gold data: no arguments
    verdict = evaluate(task, Database(load_base_db("retail")), [])
    assert verdict.status == Status.INFRA_ERROR and math.isnan(verdict.reward)
    env = gym.make("selfgym/CustomerService-retail-v0", on_infra_error="mask")
    env.reset(options={"task": task})
    _, reward, terminated, _, info = env.step("###STOP###")
    assert terminated and math.isnan(reward) and info["reward_valid"] is False
    strict = gym.make("selfgym/CustomerService-retail-v0")
    strict.reset(options={"task": task})
    with pytest.raises(VerifierError):
        strict.step("###STOP###")


def test_truncation_after_max_steps():
    env = gym.make("selfgym/CustomerService-retail-v0", max_steps=3)
    task = env.unwrapped.task_set()[0]
    env.reset(options={"task": task})
    results = [env.step('{"name": "calculate", "arguments": {"expression": "1+1"}}') for _ in range(3)]
    assert [r[3] for r in results] == [False, False, True] and results[-1][1] == 0.0
    assert results[-1][4]["outcome"] == "max_steps"


def test_cli_exports_tasks_and_checks_the_oracles(tmp_path, capsys):
    import argparse

    from selfgym.envs.customer_service.cli import register_cli
    from selfgym.types import load_tasks

    parser = argparse.ArgumentParser(prog="selfgym")
    register_cli(parser.add_subparsers(dest="command"))
    out = tmp_path / "retail_test.jsonl"
    args = parser.parse_args(["customer-service", "export", "--domain", "retail", "--split", "test", "--out", str(out)])
    assert args.func(args) == 0
    exported = load_tasks(out)
    assert exported and {t.payload["split"] for t in exported} == {"test"}
    args = parser.parse_args(["customer-service", "oracle", "--domain", "airline", "--split", "test"])
    assert args.func(args) == 0
    assert "oracle success 1.000, silent agent success 0.000" in capsys.readouterr().out
