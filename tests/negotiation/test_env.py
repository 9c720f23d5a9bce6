"""The PettingZoo envs: scripted games end to end, the observation and info contract, and
PettingZoo's own tests through both conversion directions."""

from __future__ import annotations

import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, render_test, seed_test
from pettingzoo.utils.conversions import aec_to_parallel, parallel_to_aec, turn_based_aec_to_parallel
from selfgym.envs.negotiation import contexts as C
from selfgym.envs.negotiation import prompts
from selfgym.envs.negotiation.env import env, parallel_env
from selfgym.envs.negotiation.partners import FairPartner

from selfgym.errors import ConfigError

SCRIPT = [
    "[message] I would like the hat and two balls.",
    "[message] Fine, I take the book and one ball.",
    "[propose] (0 books, 1 hats, 2 balls)",
    "[propose] (1 books, 0 hats, 1 balls)",
]


def _task(ctx):
    return C.to_task(ctx).to_dict()


@pytest.mark.parametrize("objective, expected", [("semi_competitive", (7, 4)), ("cooperative", (11, 11)), ("competitive", (3, -3))])
def test_aec_scripted_game_rewards_and_metrics(ctx, objective, expected):
    e = env(objective=objective)
    e.reset(seed=0, options={"task": _task(ctx), "starter": 0})
    seen = []
    for agent in e.agent_iter():
        obs, reward, term, trunc, info = e.last()
        assert e.observation_space(agent).contains(obs)
        if term or trunc:
            seen.append((agent, reward, info))
            e.step(None)
            continue
        e.step(SCRIPT[obs["turn"]])
    rewards = {a: r for a, r, _ in seen}
    assert (rewards["player_0"], rewards["player_1"]) == expected
    m = seen[0][2]["metrics"]
    assert m["agreement"] and m["scores"] == [7, 4] and m["joint_score"] == 11 and m["pareto_optimal"]
    assert m["turns"] == 4 and m["invalid_outputs"] == [0, 0]
    assert seen[0][2]["verdict"]["passed"] is True


def test_observation_fields_and_info_contract(ctx):
    e = env()
    e.reset(seed=1, options={"task": _task(ctx), "starter": 1})
    assert e.agent_selection == "player_1"
    obs = e.observe("player_1")
    np.testing.assert_array_equal(obs["counts"], [1, 1, 3])
    np.testing.assert_array_equal(obs["values"], [1, 0, 3])
    assert obs["to_move"] == 1 and obs["turn"] == 0 and obs["must_propose"] == 0
    assert "You speak first." in obs["text"] and "each book is worth 1" in obs["text"]
    assert e.observe("player_0")["to_move"] == 0
    info = e.infos["player_1"]
    assert info["task_id"] == C.context_id(ctx) and info["family"] == "negotiation"
    assert info["messages"][0]["role"] == "system" and info["tools"] == []
    assert info["difficulty"]["total_items"] == 5
    e.step("[message] hello")
    e.step("[propose] (0 books, 1 hats, 2 balls)")
    obs = e.observe("player_1")
    assert obs["must_propose"] == 1 and obs["text"] == prompts.PROPOSAL_NOTICE
    assert "2 balls" not in obs["text"]


def test_invalid_output_is_an_error_observation_not_an_exception(ctx):
    e = env()
    e.reset(seed=1, options={"task": _task(ctx), "starter": 0})
    for bad in ["", None, 42, b"\xff\xfe", "[propose] (1 books, 1 hats, 1 balls)"]:
        e.step(bad)
        assert e.agent_selection == "player_0"
        assert "action_error" in e.infos["player_0"]
        text = e.observe("player_0")["text"]
        assert text.endswith(prompts.ERROR_SUFFIX) and text.count(prompts.ERROR_PREFIX) == 1
        assert "You speak first." in text, "the error comes after what the player still has to read"
        if e.terminations["player_0"]:
            break
    assert e.terminations == {"player_0": True, "player_1": True}
    assert e.infos["player_0"]["metrics"]["outcome"] == "aborted"
    assert e.infos["player_0"]["metrics"]["invalid_outputs"] == [5, 0]


def test_message_cap_is_a_truncation(ctx):
    e = env(max_messages=6)
    e.reset(seed=0, options={"task": _task(ctx)})
    for _ in range(6):
        e.step("[message] more talk")
    assert e.truncations == {"player_0": True, "player_1": True}
    assert not any(e.terminations.values())
    assert e.infos["player_1"]["metrics"]["outcome"] == "cap"


def test_seed_draws_context_and_starter():
    starters, ids = set(), set()
    for seed in range(20):
        e = env()
        e.reset(seed=seed)
        starters.add(e.agent_selection)
        ids.add(e.infos["player_0"]["task_id"])
        e2 = env()
        e2.reset(seed=seed)
        assert e2.agent_selection == e.agent_selection and e2.infos["player_0"]["task_id"] == e.infos["player_0"]["task_id"]
    assert starters == {"player_0", "player_1"} and len(ids) > 10


def test_contexts_from_a_task_list_and_bad_options(ctx):
    e = env(contexts=[C.to_task(ctx)])
    e.reset(seed=5)
    assert e.infos["player_0"]["task_id"] == C.context_id(ctx)
    with pytest.raises(ConfigError):
        e.reset(options={"starter": 2})
    with pytest.raises(ConfigError):
        env(render_mode="rgb_array")


def test_parallel_env_applies_only_the_movers_action(ctx):
    p = parallel_env(objective="cooperative")
    obs, infos = p.reset(seed=0, options={"task": _task(ctx), "starter": 0})
    for line in SCRIPT:
        mover = infos["player_0"]["active_agent"]
        other = "player_1" if mover == "player_0" else "player_0"
        obs, rewards, terms, truncs, infos = p.step({mover: line, other: "ignored: not this player's turn"})
    assert p.agents == [] and all(terms.values())
    assert rewards == {"player_0": 11.0, "player_1": 11.0}
    assert infos["player_0"]["metrics"]["invalid_outputs"] == [0, 0]


def test_scripted_policies_play_through_the_parallel_env():
    p = parallel_env()
    agents = {"player_0": FairPartner(), "player_1": FairPartner()}
    obs, infos = p.reset(seed=3)
    while p.agents:
        obs, rewards, terms, truncs, infos = p.step({a: agents[a].act(obs[a], infos[a]) for a in p.agents})
    assert infos["player_0"]["metrics"]["turns"] >= 2


def test_pettingzoo_tests_through_the_conversions():
    api_test(parallel_to_aec(parallel_env()), num_cycles=100)
    parallel_api_test(turn_based_aec_to_parallel(env()), num_cycles=100)
    seed_test(lambda **kw: parallel_to_aec(parallel_env(**kw)), num_cycles=10)
    parallel_seed_test(lambda **kw: turn_based_aec_to_parallel(env(**kw)), num_cycles=10)
    render_test(lambda **kw: parallel_to_aec(parallel_env(**kw)))


@pytest.mark.parametrize("make", [env, parallel_env])
def test_cheat_is_a_valid_move_for_every_task(make):
    e = make()
    for task in C.task_set(10, seed=4):
        e.reset(seed=0, options={"task": task})
        while not e.dialogue.done:
            move = e.cheat()
            if make is env:
                e.step(move)
            else:
                e.step({"player_0": move, "player_1": move})
            assert e.dialogue.last_error == [None, None]


def test_the_cycle_conversion_is_refused_for_a_turn_based_game():
    # Players do not move in a fixed cycle (a rejected output is retried by the same player),
    # so the env says so and PettingZoo's cycle-based aec_to_parallel refuses it.
    with pytest.raises(AssertionError, match="is_parallelizable"):
        aec_to_parallel(env())


def test_render_modes(ctx, capsys):
    e = env(render_mode="ansi")
    e.reset(seed=0, options={"task": _task(ctx), "starter": 0})
    e.step(SCRIPT[0])
    text = e.render()
    assert "player_0: [message] I would like the hat" in text and "Values: player_0 [0, 1, 3]" in text
    h = env(render_mode="human")
    h.reset(seed=0, options={"task": _task(ctx), "starter": 0})
    h.step(SCRIPT[0])
    assert h.render() is None and "I would like the hat" in capsys.readouterr().out
