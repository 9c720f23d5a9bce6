"""The game's rules: scripted games with known outcomes, every invalid-output rule, scoring and Pareto."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from selfgym.envs.negotiation import prompts, rules
from selfgym.envs.negotiation.dialogue import Dialogue
from selfgym.envs.negotiation.rules import Context, Game

from selfgym.errors import ConfigError

DEAL_SCRIPT = [
    "[message] I would like the hat and two balls.",
    "[message] Fine, I take the book and one ball.",
    "[propose] (0 books, 1 hats, 2 balls)",
    "[propose] (1 books, 0 hats, 1 balls)",
]


def play(game: Game, outputs):
    return [game.play(o) for o in outputs]


@pytest.mark.parametrize("objective, expected", [
    ("semi_competitive", (7.0, 4.0)),
    ("cooperative", (11.0, 11.0)),
    ("competitive", (3.0, -3.0)),
])
def test_deal_rewards_under_each_objective(ctx, objective, expected):
    game = Game(ctx, objective, starter=0)
    play(game, DEAL_SCRIPT)
    assert game.outcome == rules.DEAL
    assert game.scores() == (7, 4)
    assert game.rewards() == expected


@pytest.mark.parametrize("objective", rules.OBJECTIVES)
def test_proposals_that_do_not_add_up_score_zero_for_both(ctx, objective):
    game = Game(ctx, objective, starter=1)
    play(game, DEAL_SCRIPT[:3] + ["[propose] (1 books, 0 hats, 2 balls)"])
    assert game.outcome == rules.NO_DEAL
    assert game.scores() is None
    assert game.rewards() == (0.0, 0.0)


@pytest.mark.parametrize("objective", rules.OBJECTIVES)
def test_abort_and_cap_score_zero_under_every_objective(ctx, objective):
    aborted = Game(ctx, objective)
    play(aborted, ["[message] hi"] + ["nonsense"] * 5)
    assert aborted.outcome == rules.ABORTED and aborted.rewards() == (0.0, 0.0)
    capped = Game(ctx, objective, max_messages=50)
    play(capped, ["[message] still talking"] * 50)
    assert capped.outcome == rules.CAPPED and capped.rewards() == (0.0, 0.0)


def test_objective_aliases_and_unknown_objective():
    assert rules.canonical_objective("coop") == "cooperative"
    assert rules.canonical_objective("comp") == "competitive"
    assert rules.canonical_objective("self") == "semi_competitive"
    with pytest.raises(ConfigError, match="objective must be one of"):
        rules.canonical_objective("zero_sum")


def test_players_alternate_and_the_second_proposal_ends_the_game(ctx):
    game = Game(ctx, starter=1)
    assert game.current == 1
    moves = play(game, DEAL_SCRIPT)
    assert [m.seat for m in moves] == [1, 0, 1, 0]
    assert game.done and len(game.messages) == 4
    with pytest.raises(RuntimeError):
        game.play("[message] too late")


def test_partner_sees_a_fixed_notice_not_the_proposal(ctx):
    d = Dialogue(ctx, starter=0)
    d.play("[message] hello")
    d.play("[propose] (1 books, 0 hats, 3 balls)")
    assert d.chats[0][-1] == {"role": "user", "content": prompts.PROPOSAL_NOTICE}
    assert "3 balls" not in d.pending(0)
    assert d.game.must_propose


INVALID_CASES = [
    # (outputs before, bad output, expected error)
    ([], "hello there", rules.ERR_FORMAT),
    ([], "[propose] (1 books, 0 hats, 3 balls)", rules.ERR_OPENING_PROPOSAL),
    (["[message] hi"], "[message] ok [propose] (1 books, 0 hats, 3 balls)", rules.ERR_TWO_MOVES),
    (["[message] hi"], "[propose] (1 hats, 0 books, 3 balls)", rules.ERR_ORDER),
    (["[message] hi"], "[propose] (1 books, 3 balls)", rules.ERR_ORDER),
    (["[message] hi"], "[propose] (1 books, 0 hats, 3 balls, 2 more)", rules.ERR_THREE_NUMBERS),
    (["[message] hi"], "[propose] (1 books, hats, 3 balls)", rules.ERR_THREE_NUMBERS),
    (["[message] hi"], "[propose] (2 books, 0 hats, 3 balls)", rules.ERR_ABOVE_TOTAL),
    (["[message] hi"], "[propose] (0 books, 0 hats, 4 balls)", rules.ERR_ABOVE_TOTAL),
    (["[message] hi", "[propose] (1 books, 0 hats, 1 balls)"], "[message] wait, let us talk", rules.ERR_MUST_PROPOSE),
]


@pytest.mark.parametrize("before, bad, error", INVALID_CASES)
def test_each_invalid_output_is_returned_to_the_same_player(ctx, before, bad, error):
    d = Dialogue(ctx, starter=0)
    for o in before:
        d.play(o)
    seat = d.current
    turns = len(d.game.messages)
    move = d.play(bad)
    assert move.kind == rules.INVALID and move.error == error
    assert d.current == seat, "the same player must retry"
    assert len(d.game.messages) == turns, "an invalid output is not a turn"
    assert d.game.invalid[seat] == 1 and not d.done
    assert d.chats[seat][-1]["content"] == prompts.error_message(error)
    assert all(bad != m["content"] for m in d.chats[1 - seat]), "the partner never sees a rejected output"
    assert all(bad != m["content"] for m in d.clean[seat])


def test_fifth_invalid_output_in_a_row_aborts_and_a_valid_one_resets_the_count(ctx):
    game = Game(ctx)
    play(game, ["bad"] * 4 + ["[message] ok"])
    assert not game.done and game.invalid_in_row == 0 and game.invalid[0] == 4
    play(game, ["bad"] * 4)
    assert not game.done
    game.play("bad")
    assert game.outcome == rules.ABORTED and game.invalid == [4, 5]


def test_message_cap_counts_accepted_outputs_only(ctx):
    game = Game(ctx, max_messages=50)
    for i in range(49):
        game.play("[message] talk")
        game.play("garbage")  # rejected outputs do not count toward the cap
        assert not game.done, i
    game.play("[message] last")
    assert game.outcome == rules.CAPPED and len(game.messages) == 50


def test_second_proposal_on_the_fiftieth_output_still_makes_a_deal(ctx):
    game = Game(ctx, max_messages=50)
    play(game, ["[message] talk"] * 48 + ["[propose] (0 books, 1 hats, 2 balls)", "[propose] (1 books, 0 hats, 1 balls)"])
    assert game.outcome == rules.DEAL


def test_proposal_parsing_accepts_singular_words_and_surrounding_text(ctx):
    p = rules.parse_output("  [propose] I keep (1 book, 0 hat, 2 ball) thanks", ctx.counts, must_propose=False, first_move=False)
    assert p.kind == rules.PROPOSE and p.proposal == (1, 0, 2)


def test_pareto_optimality(ctx):
    # Player 0 values (0,1,3), player 1 values (1,0,3), counts (1,1,3).
    assert rules.is_pareto_optimal(ctx, (0, 1, 2))      # 7 vs 4
    assert not rules.is_pareto_optimal(ctx, (1, 1, 2))  # the book is worth 0 to player 0 and 1 to player 1
    assert not rules.is_pareto_optimal(ctx, (0, 0, 2))  # giving away the hat loses 1 for player 0, gains 0
    frontier = rules.pareto_frontier(ctx)
    assert frontier == {(0, 1, b) for b in range(4)}


def test_pareto_frontier_matches_the_definition_on_every_context():
    from selfgym.envs.negotiation.contexts import all_contexts

    for c in all_contexts()[::7]:
        points = rules.split_values(c)
        brute = {k for k, u, v in points if not any(u2 >= u and v2 >= v and (u2 > u or v2 > v) for _, u2, v2 in points)}
        assert rules.pareto_frontier(c) == brute, c


def test_constraint_violations_name_each_broken_rule():
    assert rules.constraint_violations(Context.of((1, 1, 3), (0, 1, 3), (1, 0, 3))) == []
    bad = rules.constraint_violations(Context.of((1, 1, 3), (10, 0, 0), (0, 10, 0)))
    assert any("at least one player" in b for b in bad) and any("worth something to both" in b for b in bad)
    assert any("total items" in b for b in rules.constraint_violations(Context.of((1, 1, 1), (2, 4, 4), (4, 4, 2))))
    assert any("values the pool at" in b for b in rules.constraint_violations(Context.of((1, 1, 3), (1, 1, 1), (1, 0, 3))))

_OUTPUTS = st.one_of(
    st.text(max_size=40),
    st.builds(lambda t: f"[message] {t}", st.text(max_size=20)),
    st.builds(lambda a, b, c: f"[propose] ({a} books, {b} hats, {c} balls)",
              st.integers(0, 5), st.integers(0, 5), st.integers(0, 5)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_OUTPUTS, max_size=60), st.sampled_from(rules.OBJECTIVES), st.integers(0, 1))
def test_any_output_sequence_keeps_the_game_consistent(outputs, objective, starter):
    ctx = Context.of((1, 1, 3), (0, 1, 3), (1, 0, 3))
    game = Game(ctx, objective, starter=starter)
    for text in outputs:
        if game.done:
            break
        seat = game.current
        move = game.play(text)
        assert move.seat == seat
        if not game.done:
            assert (game.current == seat) == (move.kind == rules.INVALID), "only a rejected output keeps the turn"
    assert len(game.messages) <= game.max_messages and game.invalid_in_row <= game.max_invalid
    r0, r1 = game.rewards()
    if game.outcome != rules.DEAL:
        assert (r0, r1) == (0.0, 0.0)
    else:
        s0, s1 = game.scores()
        assert s0 + s1 <= 11 and (r0, r1) == rules.rewards(objective, (s0, s1))
