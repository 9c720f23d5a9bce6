"""SelfChallengingAgent driven by scripted policies: proposed / valid / kept counts, learnability
from the executor's pass rate, practice on the pool, and the training records."""

from __future__ import annotations

import json
import re

import pytest

from selfgym.agent import Agent
from selfgym.agents.self_challenging import SelfChallengingAgent
from selfgym.errors import ConfigError

import code_proposals as P

SOLUTIONS = {"sum_even": P.SUM_EVEN_SOLUTION, "square_all": P.SQUARE_SOLUTION}


def scripted_challenger(actions):
    """A challenger policy (plain callable) that proposes ``actions`` in order, cycling."""
    state = {"i": 0}

    def policy(observation, info):
        assert info["family"] == "code_challenge" and observation.startswith("Write a new")
        action = actions[state["i"] % len(actions)]
        state["i"] += 1
        return action

    return policy


class FlakySolver(Agent):
    """An executor Agent: knows the solutions, but gets ``square_all`` right only every other time."""

    name = "flaky"

    def __init__(self):
        self.calls = {}

    def act(self, observation, info):
        assert info["family"] == "code"
        entry = re.search(r"complete function `(\w+)`", observation).group(1)
        n = self.calls[entry] = self.calls.get(entry, 0) + 1
        if entry == "square_all" and n % 2 == 0:
            return "```python\ndef square_all(xs):\n    return xs\n```"
        return f"```python\n{SOLUTIONS.get(entry, 'pass')}```"


def test_loop_counts_kept_tasks_and_records(sandbox, tmp_path):
    proposals = [P.VALID, P.WEAK_TESTS, P.UNREADABLE, P.VALID_2, P.WRONG_SOLUTION, P.VALID]
    agent = SelfChallengingAgent(challenger=scripted_challenger(proposals), executor=FlakySolver(),
                                 solve_attempts=4, keep_pass_rate=(0.0, 0.9), practice_episodes=3, n_envs=1,
                                 challenge_kwargs={"sandbox": sandbox}, solve_kwargs={"sandbox": sandbox})
    stats = agent.run(rounds=2, proposals_per_round=3)
    # sum_even: valid, p = 1.0 -> outside the keep band; square_all: valid, p = 0.5 -> kept;
    # the second sum_even is valid again (it was never pooled) and again not kept.
    assert (stats.proposed, stats.valid, stats.kept) == (6, 3, 1)
    assert stats.pass_rates == [1.0, 0.5, 1.0]
    assert [t.payload["entry_point"] for t in agent.pool.tasks()] == ["square_all"]
    challenger_rewards = [r.reward for r in agent.records if r.role == "challenger"]
    assert challenger_rewards == [0.0, 0.0, 0.0, 1.0, 0.0, 0.0]  # 4p(1-p): 0 at p=1, 1 at p=0.5
    assert stats.solve_episodes == 12 and stats.practice_episodes == 3
    practice = [r for r in agent.records if r.role == "executor" and r.task.get("id") in agent.pool]
    assert len(practice) >= 3 and agent.pool.pass_rate(agent.pool.tasks()[0].id) is not None
    path = tmp_path / "records.jsonl"
    assert agent.save_records(path) == len(agent.records)
    rows = [json.loads(line) for line in open(path)]
    assert {r["role"] for r in rows} == {"challenger", "executor"}
    first = next(r for r in rows if r["role"] == "challenger")
    assert first["trajectory"]["steps"][0]["action"] == P.VALID and "reward" in first


def test_one_policy_plays_both_roles(sandbox):
    solver = FlakySolver()
    challenger = scripted_challenger([P.VALID])

    def policy(observation, info):
        return challenger(observation, info) if info["family"] == "code_challenge" else solver.act(observation, info)

    agent = SelfChallengingAgent(policy, solve_attempts=0, n_envs=2, challenge_kwargs={"sandbox": sandbox},
                                 solve_kwargs={"sandbox": sandbox}, practice_episodes=2)
    stats = agent.run(rounds=1, proposals_per_round=2)
    assert (stats.proposed, stats.valid, stats.kept) == (2, 1, 1)  # the second copy is rejected as a duplicate
    assert stats.practice_solved == 2
    # as an Agent it routes by family
    assert agent.act("Write a new strings task", {"family": "code_challenge"}) == P.VALID


def test_configuration_errors():
    with pytest.raises(ConfigError, match="both roles"):
        SelfChallengingAgent(challenger=lambda o, i: "")
    with pytest.raises(ConfigError, match="Agent or a callable"):
        SelfChallengingAgent(challenger="nope", executor="nope")


@pytest.mark.model
def test_the_default_model_plugs_in_as_the_policy(sandbox, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from selfgym.agents.llm import LLMAgent
    from selfgym.llm import make_backend
    from selfgym.llm.base import SamplingParams

    policy = LLMAgent(make_backend("default"), SamplingParams(max_tokens=48, temperature=0.7, seed=0))
    agent = SelfChallengingAgent(policy, solve_attempts=1, n_envs=1, challenge_kwargs={"sandbox": sandbox},
                                 solve_kwargs={"sandbox": sandbox})
    stats = agent.run(rounds=1, proposals_per_round=1)
    assert stats.proposed == 1 and stats.valid <= 1 and stats.infra_errors == 0
    (record,) = [r for r in agent.records if r.role == "challenger"]
    step = record.trajectory["steps"][0]
    assert step["token_ids"] and len(step["token_ids"]) == len(step["logprobs"])
    assert step["action"] == step["info"]["completion"].strip()
    # one solve attempt gives p in {0, 1}, so 4p(1-p) = 0 whether or not the proposal was valid
    assert record.reward == 0.0
