"""Core types, spaces and the TextEnv contract."""

from __future__ import annotations

import math

import gymnasium as gym
import pytest

import selfgym
from selfgym.spaces import CHARSET, normalize_text, text_space
from selfgym.types import CheckResult, Episode, Status, Step, Task, Verdict, dump_jsonl, load_jsonl, resolve_reward


def test_normalize_maps_any_string_into_the_space():
    space = text_space(64)
    for raw in ["plain", "naïve “quotes” — dash", "\x00\x01\x7f bytes", "emoji 🙂 and 漢字", "a" * 500, b"\xff\xfe raw"]:
        out = normalize_text(raw, 64)
        assert space.contains(out), repr(out)
        assert len(out) <= 64
    assert normalize_text("café") == "cafe"
    assert set(normalize_text("🙂")) <= set(CHARSET)


def test_task_roundtrip_and_errors(tmp_path):
    t = Task(id="x/1", family="arithmetic", prompt="p", payload={"a": [1, 2]}, difficulty={"level": 2})
    path = tmp_path / "tasks.jsonl"
    dump_jsonl([t, t], path)
    assert load_jsonl(path, Task) == [t, t]
    with pytest.raises(selfgym.TaskError, match="missing required field"):
        Task.from_dict({"id": "x"})
    with pytest.raises(selfgym.TaskError, match="unknown field"):
        Task.from_dict({"id": "x", "family": "f", "prompt": "p", "colour": 1})


def test_verdict_and_episode_roundtrip(tmp_path):
    v = Verdict(reward=0.5, passed=False, status=Status.TASK_FAILURE,
                checks=[CheckResult("a", True), CheckResult("b", False, "boom")], timings={"total": 0.1})
    assert Verdict.from_dict(v.to_dict()) == v
    assert v.fraction_passed == 0.5
    ep = Episode(env_id="selfgym/Arithmetic-v0", task_id="t", seed=3,
                 steps=[Step("obs", "act", 1.0, True, info={"verdict": v.to_dict()}, token_ids=[1, 2], logprobs=[-0.1, -0.2])])
    dump_jsonl([ep], tmp_path / "e.jsonl")
    back = load_jsonl(tmp_path / "e.jsonl", Episode)[0]
    assert back.steps[0].token_ids == [1, 2] and back.total_reward == 1.0
    assert back.to_dict() == ep.to_dict()


def test_infra_error_is_never_zero():
    v = Verdict.infra_error("daemon gone")
    with pytest.raises(selfgym.VerifierError, match="on_infra_error='mask'"):
        resolve_reward(v, "raise")
    reward, valid = resolve_reward(v, "mask")
    assert math.isnan(reward) and valid is False
    with pytest.raises(selfgym.ConfigError):
        resolve_reward(v, "zero")


def test_arithmetic_oracle_and_feedback():
    env = gym.make("selfgym/Arithmetic-v0", level=2, max_attempts=2)
    obs, info = env.reset(seed=7)
    assert info["difficulty"]["level"] == 2
    obs, r, term, trunc, info = env.step("no number here")
    assert r == 0.0 and not term and "action_error" in info and "Try again" in obs
    obs, r, term, trunc, info = env.step(env.unwrapped.cheat())
    assert r == 1.0 and term and info["verdict"]["passed"]
    assert [m["role"] for m in info["messages"]] == ["system", "user", "assistant", "user", "assistant", "user"]


def test_reset_accepts_a_task_option():
    env = gym.make("selfgym/Arithmetic-v0")
    task = Task(id="mine", family="arithmetic", prompt="Compute 2 + 2.", payload={"expression": "2 + 2", "answer": 4})
    obs, info = env.reset(seed=0, options={"task": task.to_dict()})
    assert info["task_id"] == "mine" and obs == "Compute 2 + 2."
    assert env.step("4")[1] == 1.0


def test_errors_share_one_root():
    for cls in (selfgym.ConfigError, selfgym.TaskError, selfgym.VerifierError, selfgym.SandboxError, selfgym.BackendError, selfgym.DependencyError):
        assert issubclass(cls, selfgym.SelfgymError)


def test_cli_list_prints_every_id(capsys):
    from selfgym.cli import main

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for entry in selfgym.catalog():
        assert entry.id in out
