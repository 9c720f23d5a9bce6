"""Population self-play over PettingZoo envs: OpenSkill ratings, matchmaking by rating,
trajectories tagged by seat and trainability, the league table; negotiation and customer service."""

from __future__ import annotations

import pytest

pytest.importorskip("openskill")

from selfgym.envs.negotiation import env as negotiation
from selfgym.envs.negotiation.partners import FairPartner, GreedyPartner, RandomPartner, StubbornPartner
from selfgym.population import League, format_table, play_round


def test_negotiation_league_rates_matches_and_tags_trajectories(tmp_path):
    league = League(seed=0)
    league.add("learner", FairPartner(), kind="learner")
    league.add("greedy", GreedyPartner())
    league.add("random", RandomPartner(seed=1))
    league.add_checkpoint("learner@0", FairPartner(), of="learner")
    result = play_round(league, negotiation.env, learner="learner", games=60, seed=0, out_dir=tmp_path)
    for r in result.records:
        seat = "player_0" if r.index % 2 == 0 else "player_1"
        assert r.players[seat] == "learner" and r.trainable == {s: s == seat for s in r.players}
        for s, ep in r.episodes.items():
            assert ep.metadata["seat"] == s and ep.metadata["trainable"] == (s == seat)
            assert ep.total_reward == r.rewards[s] == r.final_info[s]["metrics"]["rewards"][int(s[-1])]
    assert all(ep.metadata["trainable"] for ep in result.trajectories())
    table = {row["name"]: row for row in result.table}
    assert sum(row["games"] for n, row in table.items() if n != "learner") == 60
    # Greedy takes more than fair whenever they agree.
    assert table["greedy"]["mu"] > table["learner"]["mu"] and table["greedy"]["wins"] > 0
    ordinals = [r["ordinal"] for r in result.table]
    assert [r["rank"] for r in result.table] == [1, 2, 3, 4] and ordinals == sorted(ordinals, reverse=True)
    assert f"| 1 | {result.table[0]['name']} |" in format_table(result.table)
    assert (tmp_path / "trajectories_player_1.jsonl").is_file() and (tmp_path / "league.json").is_file()


def test_matchmaking_prefers_even_opponents():
    league = League(seed=0)
    league.add("me", FairPartner(), kind="learner")
    league.add("even", FairPartner(), rating=(25.0, 2.0))
    league.add("far", StubbornPartner(), rating=(60.0, 2.0))
    w_even, w_far = league.match_weights("me", ["even", "far"])
    assert w_even > 10 * w_far
    drawn = [league.matchmake("me", "player_1").name for _ in range(300)]
    assert drawn.count("even") > 5 * drawn.count("far") > 0  # the floor keeps every opponent in play


def test_infrastructure_errors_are_unrated():
    league = League(seed=0)
    league.add("a", FairPartner(), kind="learner")
    league.add("b", GreedyPartner())
    league.record({"player_0": "a", "player_1": "b"}, {"player_0": 0.0, "player_1": 0.0}, valid=False)
    assert league.unrated_games == 1 and league.members["a"].rated_games == 0 and league.members["a"].rating.mu == 25.0


def test_customer_service_two_seat_population():
    pytest.importorskip("inspect_evals")
    from selfgym.agent import Agent
    from selfgym.envs.customer_service.user import ScriptedUser
    from selfgym.registration import make_pettingzoo

    class Closer(Agent):
        name = "closer"

        def act(self, observation, info):
            return "I cannot help with that. ###STOP###"

    class Polite(Agent):
        name = "polite"

        def act(self, observation, info):
            return "Is there anything else I can help you with?"

    league = League(seed=0)
    league.add("agent", Polite(), kind="learner", seats=["agent"])
    league.add("closer", Closer(), seats=["agent"])
    league.add("user", ScriptedUser(), seats=["user"])
    result = play_round(league, lambda: make_pettingzoo("selfgym/customer_service", domain="retail"), learner="agent",
                        games=4, seed=0, env_id="selfgym/customer_service")
    for r in result.records:
        assert r.players == {"agent": "agent", "user": "user"} and r.trainable == {"agent": True, "user": False}
        assert r.valid and r.rewards["agent"] == r.rewards["user"]  # the seats cooperate: one reward
        assert r.episodes["agent"].steps and r.episodes["user"].steps
        assert r.episodes["user"].metadata["trainable"] is False
    assert {row["name"]: row["games"] for row in result.table} == {"agent": 4, "closer": 0, "user": 4}
