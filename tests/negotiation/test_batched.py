"""The batched self-play path agrees game for game with the AEC env (and so with rules.Game)."""

from __future__ import annotations

import numpy as np
import pytest

from selfgym.envs.negotiation import batched, rules
from selfgym.envs.negotiation.contexts import all_contexts
from selfgym.envs.negotiation.env import env
from selfgym.envs.negotiation.partners import FairPartner, GreedyPartner, StubbornPartner
from selfgym.envs.negotiation.rules import Context
from selfgym.errors import ConfigError

CLASSES = {"fair": FairPartner, "greedy": GreedyPartner, "stubborn": StubbornPartner}


def play_aec(e, seed: int, pair) -> tuple[int, rules.Game]:
    """One seeded game in the AEC env with scripted players; (live steps, the final rules.Game)."""
    e.reset(seed=seed)
    players = {"player_0": CLASSES[pair[0]](), "player_1": CLASSES[pair[1]]()}
    steps = 0
    for agent in e.agent_iter():
        obs, _, term, trunc, info = e.last()
        if term or trunc:
            e.step(None)
            continue
        e.step(players[agent].act(obs, info))
        steps += 1
    return steps, e.dialogue.game


def assert_same(res: batched.BatchResult, i: int, steps: int, game: rules.Game) -> None:
    assert res.context(i) == game.context
    assert int(res.starter[i]) == game.starter
    assert int(res.steps[i]) == steps == len(game.messages)
    assert res.outcome_name(i) == game.outcome
    for seat in (0, 1):
        if game.proposals[seat] is None:
            assert not res.proposed[i, seat]
        else:
            assert res.proposed[i, seat] and tuple(res.keep[i, seat]) == game.proposals[seat]
    assert tuple(res.scores[i]) == (game.scores() or (0, 0))
    assert tuple(res.rewards[i]) == game.rewards()


@pytest.mark.parametrize("pair", [("fair", "greedy"), ("greedy", "fair"), ("fair", "fair"),
                                  ("greedy", "greedy"), ("stubborn", "fair"), ("greedy", "stubborn")])
def test_matches_aec_env_on_seeded_games(pair):
    seeds = range(1000, 1700)
    res = batched.play_batch(seeds, pair)
    e = env()
    for i, seed in enumerate(seeds):
        steps, game = play_aec(e, seed, pair)
        assert_same(res, i, steps, game)
    if "fair" in pair:  # a fair player reaches deals (greedy vs greedy may never agree)
        assert rules.DEAL in {res.outcome_name(i) for i in range(len(res))}


def test_outcomes_cover_no_deal_and_cap_and_match():
    # fair vs greedy with a fair starter produces no-deals; stubborn vs stubborn always hits the cap.
    e = env(max_messages=7)
    res = batched.play_batch(range(300), ("stubborn", "stubborn"), max_messages=7)
    assert set(res.outcome.tolist()) == {batched.CAPPED}
    for i in range(300):
        steps, game = play_aec(e, i, ("stubborn", "stubborn"))
        assert_same(res, i, steps, game)
    res = batched.play_batch(range(2000), ("fair", "greedy"))
    assert batched.NO_DEAL in set(res.outcome.tolist())


def test_mixed_population_in_one_call_matches_per_pair_calls():
    rng = np.random.default_rng(3)
    names = np.array(batched.POLICIES, dtype=object)
    pairs = names[rng.integers(3, size=(3000, 2))]
    res = batched.play_batch(range(3000), pairs)
    e = env()
    for i in range(0, 3000, 10):  # a sample through the env; every row through single-pair batches
        steps, game = play_aec(e, i, tuple(pairs[i]))
        assert_same(res, i, steps, game)
    for pair in {tuple(p) for p in pairs.tolist()}:
        rows = [i for i in range(3000) if tuple(pairs[i]) == pair]
        alone = batched.play_batch(rows, pair)
        assert np.array_equal(alone.rewards, res.rewards[rows])
        assert np.array_equal(alone.steps, res.steps[rows])


@pytest.mark.parametrize("objective", ["cooperative", "competitive"])
def test_objectives_match_env(objective):
    res = batched.play_batch(range(400), ("fair", "greedy"), objective=objective)
    e = env(objective=objective)
    for i in range(400):
        steps, game = play_aec(e, i, ("fair", "greedy"))
        assert_same(res, i, steps, game)


def test_drawn_contexts_are_valid_and_follow_the_shares():
    counts, values, starter = batched.draw_contexts(20_000, np.random.default_rng(0))
    valid = set(all_contexts())
    for i in range(0, 20_000, 97):
        assert Context.of(counts[i], values[i, 0], values[i, 1]) in valid
    totals = counts.sum(1)
    assert abs((totals == 5).mean() - 0.5223) < 0.02 and abs((totals == 7).mean() - 0.0573) < 0.01
    assert set(starter.tolist()) == {0, 1}
    res = batched.play_batch(None, "fair", counts=counts, values=values, starter=starter)
    assert res.total_steps > 0 and len(res) == 20_000


def test_bad_arguments_are_errors():
    with pytest.raises(ConfigError, match="among"):
        batched.play_batch(range(4), ("fair", "random"))
    with pytest.raises(ConfigError, match="shape"):
        batched.play_batch(range(4), [("fair", "fair")] * 3)
    with pytest.raises(ConfigError, match="either seeds"):
        batched.play_batch(range(2), "fair", counts=np.ones((2, 3)))
