"""The B-STaR balance score and the choice of temperature and threshold."""

from __future__ import annotations

import pytest

from selfgym.curricula.bstar import Sample, balance_score, choose_settings, collect_samples, query_balance
from selfgym.errors import ConfigError


def S(text, correct, score=None):
    return Sample(text, correct, score)


def test_query_balance_by_hand():
    q = [S("4", True, 0.9), S("four", True, 0.8), S("5", False, 0.7), S("4", True, 0.2)]
    # threshold 0.5: kept 3, correct 2, unique correct 2 -> min(2/4, 1) * 2/3
    assert query_balance(q, 0.5, n_star=4) == pytest.approx(0.5 * 2 / 3)
    # threshold 0.75: kept 2, both correct and distinct -> 2/4 * 1
    assert query_balance(q, 0.75, n_star=4) == pytest.approx(0.5)
    # threshold 0: kept 4, correct 3, unique 2 ("4" twice) -> 2/2 capped at 1 * 3/4
    assert query_balance(q, 0.0, n_star=2) == pytest.approx(0.75)
    assert query_balance(q, 0.95, n_star=2) == 0.0  # nothing kept
    # duplicates differing only in spacing or case count once
    assert query_balance([S("x  + 1", True), S("X + 1", True)], 0.5, n_star=2) == pytest.approx(0.5)


def test_choose_settings_trades_exploration_against_exploitation():
    # cold sampling: always the same correct answer (no exploration);
    # hot sampling: several distinct correct answers, but wrong ones that a reward model scores
    # lower -- with a good threshold the hot setting wins.
    cold = [[S("a", True, 0.9)] * 4 for _ in range(3)]
    hot = [[S("a", True, 0.9), S("b", True, 0.8), S("c", True, 0.85), S("zz", False, 0.4)] for _ in range(3)]
    choice = choose_settings({0.2: cold, 1.0: hot}, thresholds=[0.0, 0.5], n_star=3)
    assert (choice.temperature, choice.threshold) == (1.0, 0.5)
    assert choice.balance == pytest.approx(1.0)
    assert choice.grid[(1.0, 0.0)] == pytest.approx(0.75)
    assert choice.grid[(0.2, 0.5)] == pytest.approx(1 / 3)
    table = choice.table()
    assert "| 0.2 |" in table and "thr 0.5" in table


def test_default_thresholds_and_ties_go_to_the_cooler_setting():
    same = [[S("a", True), S("b", True)]]
    choice = choose_settings({0.7: same, 0.3: same}, n_star=2)
    assert choice.temperature == 0.3 and choice.threshold == 1.0  # thresholds from the values seen
    with pytest.raises(ConfigError, match="at least one temperature"):
        choose_settings({})
    with pytest.raises(ConfigError, match="n_star"):
        balance_score(same, 0.5, n_star=0)


@pytest.mark.model
def test_collect_samples_from_the_default_model_and_choose():
    from selfgym.envs.arithmetic.task import parse_answer
    from selfgym.llm import make_backend

    questions = [("What is 2 + 3? Answer with the number only.", 5), ("What is 10 - 4? Answer with the number only.", 6)]
    chats = [[{"role": "user", "content": q}] for q, _ in questions]
    backend = make_backend("default")
    try:
        got = collect_samples(backend, chats, check=lambda i, text: parse_answer(text) == questions[i][1],
                              temperatures=[0.2, 1.0], n=4, max_tokens=12)
    finally:
        close = getattr(backend, "close", None)
        if close:
            close()
    assert sorted(got) == [0.2, 1.0]
    for qs in got.values():
        assert len(qs) == 2 and all(len(q) == 4 for q in qs)
        for i, q in enumerate(qs):
            assert all(s.correct == (parse_answer(s.text) == questions[i][1]) for s in q)
    choice = choose_settings(got, thresholds=[0.5], n_star=2)
    assert set(choice.grid) == {(0.2, 0.5), (1.0, 0.5)}
    assert choice.balance == max(choice.grid.values())
