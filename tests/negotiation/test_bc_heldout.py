"""The measured negotiation loop (examples/selfplay_negotiation.py --eval-games): held-out
contexts, the deal filter, and the statistics a reader of docs/RESULTS.md relies on.

The fast tests use scripted players only. The slow one runs the example end to end with the
default model on a tiny budget and re-scores every training game from its trajectories with
``rules.Game``: the cloned set is exactly the learner's seats that reached a deal and scored
above the round's mean, and no evaluation context was ever a training context.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from selfgym.envs.negotiation.partners import FairPartner, GreedyPartner, make_partner
from selfgym.errors import ConfigError
from selfgym.integrations import negotiation_bc as nbc
from selfgym.types import load_jsonl

ROOT = Path(__file__).resolve().parents[2]
ENV_KWARGS = {"objective": "semi_competitive", "max_messages": 8, "max_invalid": 3}


def test_splits_are_disjoint_and_stable():
    train = nbc.draw_tasks(40, seed=0, split="train")
    held = nbc.draw_tasks(40, seed=0, split="heldout")
    assert len({t.id for t in train}) == 40 and len({t.id for t in held}) == 40
    assert not {t.id for t in train} & {t.id for t in held}
    assert all(nbc.context_split(t.id) == "train" for t in train)
    assert [t.id for t in nbc.draw_tasks(40, seed=0, split="heldout")] == [t.id for t in held]
    with pytest.raises(ConfigError, match="held"):
        nbc.play_training_games(FairPartner(), [], selfplay_games=1, partner_games=0, tasks=held[:1], seed=0,
                                env_kwargs=ENV_KWARGS)
    with pytest.raises(ConfigError, match="held out"):
        nbc.evaluate(FairPartner(), FairPartner(), train[:1], seed=0, env_kwargs=ENV_KWARGS)


def test_deal_filter_keeps_only_deals_above_the_pooled_mean():
    tasks = nbc.draw_tasks(24, seed=3, split="train")
    # fair in both seats mostly agrees; against greedy it often does not: a mix of deals and failures.
    records = nbc.play_training_games(FairPartner(), [GreedyPartner(), FairPartner()], selfplay_games=8,
                                      partner_games=16, tasks=tasks, seed=5, env_kwargs=ENV_KWARGS)
    outcomes = {r.metrics["outcome"] for r in records}
    assert "deal" in outcomes and outcomes - {"deal"}, "the check needs deals and failures"
    mean = float(np.mean(nbc.learner_rewards(records)))
    want = {(r.index, s) for r in records for s in (0, 1)
            if r.trainable[s] and r.metrics["agreement"] and r.metrics["rewards"][s] > mean}
    kept = nbc.deal_filter(records)
    assert {(e["game"], e["seat"]) for e in kept} == want and want
    assert all(e["round_mean"] == pytest.approx(mean) for e in kept)


def test_evaluation_is_paired_and_its_intervals_hold_the_estimates():
    held = nbc.draw_tasks(30, seed=9, split="heldout")
    fair = nbc.evaluate(FairPartner(), FairPartner(), held, seed=11, env_kwargs=ENV_KWARGS)
    greedy = nbc.evaluate(GreedyPartner(), FairPartner(), held, seed=11, env_kwargs=ENV_KWARGS)
    for e in (fair, greedy):
        pg = e["per_game"]
        assert e["games"] == 30 and pg["seat"] == [k % 2 for k in range(30)]
        assert e["agreement_rate"] == pytest.approx(np.mean(pg["agreement"]))
        assert e["score_mean"] == pytest.approx(np.mean(pg["score"]))
        assert e["agreement_ci"][0] <= e["agreement_rate"] <= e["agreement_ci"][1]
        assert e["score_ci"][0] <= e["score_mean"] <= e["score_ci"][1]
    assert fair["agreement_rate"] > greedy["agreement_rate"]
    change = nbc.compare(fair, greedy)
    assert change["agreement_change"] == pytest.approx(greedy["agreement_rate"] - fair["agreement_rate"])
    assert change["agreement_change_ci"][1] < 0, "a clear drop on the same games is outside the paired interval"
    other = nbc.evaluate(FairPartner(), FairPartner(), held[:29], seed=11, env_kwargs=ENV_KWARGS)
    with pytest.raises(ConfigError, match="same held-out games"):
        nbc.compare(fair, other)


def test_replay_rescores_a_game_from_its_trajectories():
    tasks = nbc.draw_tasks(12, seed=4, split="train")
    records = nbc.play_training_games(make_partner("random", seed=1), [FairPartner()], selfplay_games=4,
                                      partner_games=8, tasks=tasks, seed=2, env_kwargs=ENV_KWARGS)
    assert any(r.metrics["invalid_outputs"] != [0, 0] or r.metrics["outcome"] != "deal" for r in records)
    for r in records:
        game = nbc.replay(r.to_dict(), [ep.to_dict() for ep in r.episodes], **{k: ENV_KWARGS[k] for k in ENV_KWARGS})
        assert game.outcome == r.metrics["outcome"]
        assert list(game.rewards()) == r.metrics["rewards"]


def _rescored_filter(folder: Path, env_kwargs: dict) -> tuple[set, list[dict]]:
    """(game, seat) pairs the deal filter must keep, from trajectories re-played by the rules module."""
    games = load_jsonl(folder / "games.jsonl")
    seats = [{e["metadata"]["game"]: e for e in load_jsonl(folder / f"trajectories_player_{s}.jsonl")} for s in (0, 1)]
    rewards = {}
    for g in games:
        replayed = nbc.replay(g, [seats[0][g["index"]], seats[1][g["index"]]], **env_kwargs)
        assert replayed.outcome == g["metrics"]["outcome"], f"game {g['index']} re-scored differently"
        rewards[g["index"]] = (replayed.outcome == "deal", replayed.rewards())
    learner = [rewards[g["index"]][1][s] for g in games for s in (0, 1) if g["trainable"][s]]
    mean = float(np.mean(learner))
    keep = {(g["index"], s) for g in games for s in (0, 1)
            if g["trainable"][s] and rewards[g["index"]][0] and rewards[g["index"]][1][s] > mean}
    return keep, games


@pytest.mark.model
def test_measured_loop_clones_only_filtered_games_and_never_evaluates_on_training_contexts(tmp_path):
    out = tmp_path / "run"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    argv = ["--rounds", "1", "--warmup-games", "3", "--selfplay-games", "1", "--pool-games", "2",
            "--scripted-partners", "fair", "--pool-snapshots", "0", "--bc-filter", "deals", "--eval-games", "2",
            "--max-messages", "7", "--max-invalid", "2", "--max-tokens", "12", "--max-length", "384",
            "--out", str(out)]
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "selfplay_negotiation.py"), *argv],
                          capture_output=True, text=True, timeout=900, env=env, cwd=str(ROOT))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    env_kwargs = {"objective": "semi_competitive", "max_messages": 7, "max_invalid": 2}

    metrics = json.loads((out / "metrics.json").read_text())
    assert [e["label"] for e in metrics["eval"]] == ["before", "warmup", "round_0"]
    held = set(metrics["eval_contexts"])
    assert len(held) == 2 and all(nbc.context_split(t) == "heldout" for t in held)
    first = metrics["eval"][0]["per_game"]
    for e in metrics["eval"]:  # every evaluation plays the same games
        assert (e["per_game"]["task_id"], e["per_game"]["seed"], e["per_game"]["seat"]) == \
            (first["task_id"], first["seed"], first["seat"])
        assert e["agreement_ci"][0] <= e["agreement_rate"] <= e["agreement_ci"][1]
        assert {g["task_id"] for g in load_jsonl(out / f"eval_{e['label']}" / "games.jsonl")} == held
    assert "before: held-out vs fair: agreement" in proc.stdout and "paired bootstrap 95%" in proc.stdout

    rows = load_jsonl(out / "log.jsonl")
    trained_on = 0
    for tag, row in zip(("warmup", "round_0"), rows, strict=True):
        keep, games = _rescored_filter(out / tag, env_kwargs)
        train_ids = {g["task_id"] for g in games}
        assert not train_ids & held, f"{tag}: an evaluation context was played in training"
        assert all(nbc.context_split(t) == "train" for t in train_ids)
        bc = load_jsonl(out / tag / "bc.jsonl")
        assert {(e["game"], e["seat"]) for e in bc} == keep
        summary = json.loads((out / tag / "summary.json").read_text())
        assert (summary["bc_examples"], summary["bc_filter"]) == (len(bc), "deals")
        trained_on += len(bc)
        if bc:
            assert row["sft"]["weights"]["tensors_changed"] > 0
        assert row["change"]["agreement_change"] == pytest.approx(
            row["eval"]["agreement_rate"] - metrics["eval"][0]["agreement_rate"])
    assert rows[0]["bc"]["examples"] > 0, "the scripted warm-up games reach deals: the filter has work to do"
    assert trained_on >= rows[0]["bc"]["examples"]
    assert (out / "heldout.png").is_file()
