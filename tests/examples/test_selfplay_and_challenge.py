"""Smoke runs of the two self-improvement examples at a tiny budget, checking what a user relies on.

- examples/selfplay_negotiation.py: the behaviour-cloning set is exactly the above-mean games
  of both seats, SFT changed the weights, the snapshot joined the pool and played.
- examples/self_challenge_loop.py: proposed / valid / kept counts are reported, kept tasks pass
  the sandbox validator, every training task says where it came from, GRPO scored every sample.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from selfgym.types import load_jsonl

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def run_example(name: str, *argv: str, timeout: int = 900) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false")
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), *argv], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=str(ROOT))
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc


def above_mean(games: list[dict]) -> set[tuple[int, int]]:
    """(game, seat) pairs a correct filter keeps: per seat, trainable games above that seat's mean."""
    keep = set()
    for seat in (0, 1):
        mine = [g for g in games if g["trainable"][seat]]
        mean = np.mean([g["metrics"]["rewards"][seat] for g in mine]) if mine else 0.0
        keep |= {(g["index"], seat) for g in mine if g["metrics"]["rewards"][seat] > mean}
    return keep


def check_round_files(folder: Path, row: dict) -> list[dict]:
    """The BC set holds exactly the above-mean games of each seat, as clean dialogues; metrics add up."""
    games = load_jsonl(folder / "games.jsonl")
    bc = load_jsonl(folder / "bc.jsonl")
    assert {(e["game"], e["seat"]) for e in bc} == above_mean(games)
    for e in bc:
        assert e["reward"] > e["round_mean"]
        roles = [m["role"] for m in e["messages"]]
        assert roles[0] == "system" and roles[-1] == "assistant"
        assert not any(m["content"].startswith("Your last output was not accepted") for m in e["messages"])
    assert row["bc"]["examples"] == len(bc)
    selfplay = [g for g in games if all(g["trainable"])]
    if selfplay:
        assert row["selfplay"]["games"] == len(selfplay)
        assert row["selfplay"]["agreement_rate"] == pytest.approx(np.mean([g["metrics"]["agreement"] for g in selfplay]))
        assert row["selfplay"]["joint_score"] == pytest.approx(np.mean([g["metrics"]["joint_score"] for g in selfplay]))
    for key in ("agreement_rate", "score_0", "score_1", "joint_score", "pareto_rate", "invalid_outputs"):
        assert key in row["selfplay"] or not selfplay
    return games


def test_examples_explain_their_options():
    for name, option, words in (("selfplay_negotiation.py", "--pool-snapshots", "latest snapshots"),
                                ("self_challenge_loop.py", "--seed-tasks", "bundled tasks")):
        out = subprocess.run([sys.executable, str(EXAMPLES / name), "--help"], capture_output=True, text=True,
                             timeout=120).stdout
        assert option in out and words in out and "--model" in out


@pytest.mark.model
def test_training_template_masks_only_the_policys_turns():
    from transformers import AutoTokenizer

    from selfgym.integrations.selfplay import training_chat_template
    from selfgym.models import default_model_dir

    tok = AutoTokenizer.from_pretrained(str(default_model_dir()), local_files_only=True)
    template = training_chat_template(tok)
    assert template is not None
    chat = [{"role": "system", "content": "Split the items."}, {"role": "user", "content": "You speak first."},
            {"role": "assistant", "content": "[message] I want (1 books, 0 hats, 2 balls)."},
            {"role": "user", "content": "[message] Fine by me."},
            {"role": "assistant", "content": "[propose] (1 books, 0 hats, 2 balls)"}]
    assert tok.apply_chat_template(chat, tokenize=False, chat_template=template) == tok.apply_chat_template(chat, tokenize=False)
    enc = tok.apply_chat_template(chat, chat_template=template, return_dict=True, return_assistant_tokens_mask=True)
    trained = [t for t, m in zip(enc["input_ids"], enc["assistant_masks"]) if m]
    assert tok.decode(trained) == ("[message] I want (1 books, 0 hats, 2 balls).<|im_end|>"
                                   "[propose] (1 books, 0 hats, 2 balls)<|im_end|>")


@pytest.mark.model
def test_negotiation_selfplay_clones_above_mean_games_and_grows_the_pool(tmp_path):
    out = tmp_path / "run"
    proc = run_example("selfplay_negotiation.py", "--rounds", "1", "--warmup-games", "4", "--selfplay-games", "2",
                       "--pool-games", "2", "--scripted-partners", "", "--max-messages", "4", "--max-tokens", "16",
                       "--max-length", "384", "--out", str(out))
    rows = load_jsonl(out / "log.jsonl")
    assert [r["round"] for r in rows] == ["warmup", 0]
    assert "warmup:" in proc.stdout and "round_0:" in proc.stdout

    # The warm-up round: scripted games, filtered per seat, cloned; the snapshot joins the pool.
    warm = rows[0]
    check_round_files(out / "warmup", warm)
    assert warm["bc"]["seat_0"]["examples"] > 0 and warm["bc"]["seat_1"]["examples"] > 0, "both seats are cloned"
    assert warm["sft"]["steps"] >= 1 and warm["sft"]["assistant_only_loss"] is True
    assert warm["sft"]["weights"]["tensors_changed"] > 0 and warm["sft"]["weights"]["delta_l2"] > 0
    snapshot = Path(warm["snapshot"])
    assert (snapshot / "config.json").is_file() and (snapshot / "model.safetensors").is_file()
    from safetensors.torch import load_file

    from selfgym.models import default_model_dir
    import torch

    trained, original = load_file(str(snapshot / "model.safetensors")), load_file(os.path.join(default_model_dir(), "model.safetensors"))
    assert any(not torch.equal(trained[k], original[k]) for k in original if k in trained)

    # Round 0: the model plays itself and the snapshot (the only pool member), from the trained weights.
    row = rows[1]
    assert row["pool"] == ["snapshot:warmup"]
    games = check_round_files(out / "round_0", row)
    assert row["selfplay"]["games"] == 2 and row["vs_pool"]["games"] == 2
    assert {p for g in games for p in g["policies"]} == {"policy", "snapshot:warmup"}
    assert all(g["metrics"]["outcome"] in {"deal", "no_deal", "aborted", "cap"} for g in games)
    if row["bc"]["examples"]:
        assert row["sft"]["weights"]["tensors_changed"] > 0 and Path(row["snapshot"]).is_dir()
    else:
        assert row["sft"] is None and row["snapshot"] is None and "no training" in proc.stdout


@pytest.mark.model
@pytest.mark.docker
def test_self_challenge_loop_reports_counts_and_trains_on_valid_tasks(tmp_path):
    from selfgym.envs.code.taskformat import load_cat
    from selfgym.envs.code.validate import validate_task
    from selfgym.verifiers import get_sandbox

    out = tmp_path / "run"
    proc = run_example("self_challenge_loop.py", "--rounds", "1", "--proposals", "2", "--challenge-tokens", "48",
                       "--oracle-proposals", "1", "--seed-tasks", "1", "--grpo-steps", "1", "--batch-size", "2",
                       "--generations", "2", "--max-completion-length", "32", "--sandbox", "docker",
                       "--out", str(out))
    (row,) = load_jsonl(out / "log.jsonl")
    mine, oracle = row["self_proposed"], row["oracle"]
    assert mine["proposed"] == 2 and 0 <= mine["kept"] <= mine["valid"] <= 2 and mine["infra_errors"] == 0
    assert oracle == {"proposed": 1, "valid": 1, "kept": 1}
    assert f"self-proposed 2 -> valid {mine['valid']} -> kept {mine['kept']}" in proc.stdout

    # Kept tasks are exactly the pool, each labelled with its origin, and each passes the validator.
    kept = load_cat(str(out / "pool.jsonl"))
    assert [t["id"] for t in row["kept_tasks"]] == [t.id for t in kept]
    origins = [t["origin"] for t in row["kept_tasks"]]
    assert origins.count("oracle") == 1 and origins.count("self-proposed") == mine["kept"]
    sandbox = get_sandbox("docker")
    try:
        for task in kept:
            report = validate_task(task, sandbox=sandbox)
            assert report.valid, (task.id, report.problems)
    finally:
        sandbox.close()

    # The executor trained on the kept tasks plus one bundled task, every completion scored by the env.
    assert [t["origin"] for t in row["train_tasks"]] == origins + ["bundled"]
    grpo = row["grpo"]
    assert grpo["steps"] == 1 and len(grpo["reward_by_step"]) == 1
    assert grpo["reward_calls"]["calls"] == 2 and grpo["reward_calls"]["masked"] == 0
    assert 0.0 <= grpo["reward_by_step"][0] <= 1.0
