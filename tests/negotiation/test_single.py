"""selfgym/Negotiation-v0: one seat against scripted partners or any Agent."""

from __future__ import annotations

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env
from selfgym.envs.negotiation import contexts as C
from selfgym.envs.negotiation.partners import PARTNERS, FairPartner

import selfgym  # noqa: F401  (registers the ids)
from selfgym.agent import Agent
from selfgym.errors import ConfigError


def _play(env, policy, **reset):
    obs, info = env.reset(**reset)
    total, steps = 0.0, 0
    while True:
        obs, reward, term, trunc, info = env.step(policy.act(obs, info))
        total += reward
        steps += 1
        assert env.observation_space.contains(obs)
        if term or trunc:
            return total, info, steps


@pytest.mark.parametrize("partner", sorted(PARTNERS))
def test_check_env_and_a_full_game_with_each_partner(partner):
    env = gym.make("selfgym/Negotiation-v0", partner=partner)
    check_env(env.unwrapped, skip_render_check=False)
    total, info, _ = _play(env, FairPartner(), seed=11)
    assert info["partner"] == partner
    assert total == info["metrics"]["rewards"][0]
    assert "verdict" in info and info["verdict"]["reward"] == total


def test_known_outcome_against_the_fair_partner(ctx):
    # The fair partner (values (1,0,3)) wants the split closest to 5 points with the fewest
    # items: two balls (6) and the book with a ball (4) tie; it picks (0, 0, 2), then proposes it.
    env = gym.make("selfgym/Negotiation-v0", partner="fair", objective="cooperative")
    obs, info = env.reset(seed=0, options={"task": C.to_task(ctx), "starter": 1})
    assert obs["text"].endswith("[message] I want (0 books, 0 hats, 2 balls).")
    obs, r, term, trunc, info = env.step("[propose] (1 books, 1 hats, 1 balls)")
    assert term and r == 10.0 and info["metrics"]["scores"] == [4, 6]
    assert not info["metrics"]["pareto_optimal"]  # the book is worth more to the partner


def test_partner_chosen_per_episode_by_option_and_as_an_agent(ctx):
    class Echo(Agent):
        """A partner that always asks for every ball, then proposes that split."""

        name = "echo"

        def act(self, observation, info):
            if observation["must_propose"]:
                return "[propose] (0 books, 0 hats, 3 balls)"
            return "[message] I want (0 books, 0 hats, 3 balls)."

    env = gym.make("selfgym/Negotiation-v0")
    obs, info = env.reset(seed=0, options={"task": C.to_task(ctx), "starter": 1, "partner": Echo()})
    assert info["partner"] == "echo" and "3 balls" in obs["text"]
    obs, r, term, trunc, info = env.step("[propose] (1 books, 1 hats, 0 balls)")
    assert term and info["metrics"]["agreement"] and r == 1.0
    obs, info = env.reset(seed=0, options={"partner": "stubborn"})
    assert info["partner"] == "stubborn"


def test_stubborn_partner_runs_into_the_cap():
    env = gym.make("selfgym/Negotiation-v0", partner="stubborn", max_messages=10)
    total, info, steps = _play(env, PARTNERS["stubborn"](), seed=2)
    assert info["metrics"]["outcome"] == "cap" and total == 0.0 and steps == 5


def test_learner_mistakes_are_errors_and_stepping_after_the_end_is_safe():
    env = gym.make("selfgym/Negotiation-v0", partner="greedy")
    env.reset(seed=4)
    for _ in range(5):
        obs, r, term, trunc, info = env.step("no prefix")
        assert "action_error" in info
    assert term and r == 0.0 and info["metrics"]["outcome"] == "aborted"
    obs, r, term, trunc, info = env.step("[message] hello?")
    assert term and r == 0.0 and info["action_error"] == "step() called after the episode ended"


def test_bad_partner_and_seat_are_config_errors():
    with pytest.raises(ConfigError, match="partner must be one of"):
        gym.make("selfgym/Negotiation-v0", partner="shrewd")
    with pytest.raises(ConfigError, match="seat"):
        gym.make("selfgym/Negotiation-v0", seat=2)


def test_task_set_and_cheat():
    env = gym.make("selfgym/Negotiation-v0").unwrapped
    tasks = env.task_set(5, seed=1)
    assert len(tasks) == 5 and all(t.family == "negotiation" for t in tasks)
    deals = 0
    for t in tasks:
        obs, info = env.reset(seed=0, options={"task": t})
        while True:
            obs, r, term, trunc, info = env.step(env.cheat())
            assert "action_error" not in info
            if term or trunc:
                break
        deals += info["metrics"]["agreement"]
    assert deals >= 3
