"""End-to-end runs of the self-improvement loops at a tiny budget, checking what a user relies on.

- examples/expert_iteration.py --label verifier: every example trained on is an answer the
  env's checker accepts; no held-out task is trained on; the printed rates match the per-task file.
- examples/expert_iteration.py --label majority: every example trained on carries its task's
  majority answer, recomputed from the stored samples, at the required agreement.
- examples/reflexion_trials.py: trial 1 is shared, only failed tasks are retried, reflections
  (not the retry note) reach the next trial's prompt, and success never drops across trials.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from selfgym.envs.arithmetic import task as rules
from selfgym.types import Task, load_jsonl

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TINY_EI = ["--env-kwargs", '{"level": 1, "max_attempts": 1}', "--train-tasks", "8", "--eval-tasks", "8",
           "--samples", "3", "--rounds", "1", "--max-new-tokens", "16", "--epochs", "1"]


def run_example(name: str, *argv: str, timeout: int = 600) -> str:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), *argv], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=str(ROOT))
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc.stdout


def check_heldout(out: Path, stdout: str) -> dict:
    metrics = json.loads((out / "metrics.json").read_text())
    held = load_jsonl(out / "heldout.jsonl")
    trained = {r["task"]["id"] for r in load_jsonl(out / "train_data.jsonl")}
    assert held and not trained & {r["task"] for r in held}, "a held-out task was trained on"
    assert len({r["task"] for r in held}) == len(held)
    for row in metrics["heldout"]:
        assert row["k"] == sum(r[row["name"]] for r in held) and row["n"] == len(held)
        assert row["lo"] <= row["rate"] <= row["hi"]
        assert f"[{row['lo']:.1%}, {row['hi']:.1%}]" in stdout  # the interval is printed
    assert "paired 95% bootstrap interval" in stdout
    assert (out / "learning.png").stat().st_size > 0
    return metrics


@pytest.mark.model
@pytest.mark.slow
def test_expert_iteration_trains_only_on_verified_answers(tmp_path):
    stdout = run_example("expert_iteration.py", *TINY_EI, "--label", "verifier", "--out", str(tmp_path))
    metrics = check_heldout(tmp_path, stdout)
    data = load_jsonl(tmp_path / "train_data.jsonl")
    (round_1,) = metrics["rounds"]
    assert round_1["trained_on"] == len(data) > 0, "level-1 arithmetic always yields some right samples"
    for row in data:
        assert rules.check(Task.from_dict(row["task"]), row["completion"]).passed, row
        assert row["verifier"] == 1 and row["completion"] in row["samples"]
    assert round_1["trained_on_correct"] == len(data)
    assert round_1["sft"]["steps"] > 0 and round_1["sft"]["delta_l2"] > 0  # the weights moved


@pytest.mark.model
@pytest.mark.slow
def test_majority_vote_labels_are_self_consistent(tmp_path):
    stdout = run_example("expert_iteration.py", *TINY_EI, "--label", "majority", "--min-agreement", "0.6",
                         "--out", str(tmp_path))
    metrics = check_heldout(tmp_path, stdout)
    data = load_jsonl(tmp_path / "train_data.jsonl")
    assert metrics["rounds"][0]["trained_on"] == len(data)
    for row in data:
        answers = [rules.parse_answer(s) for s in row["samples"]]
        top, count = Counter(a for a in answers if a is not None).most_common(1)[0]
        assert count / len(answers) >= 0.6
        assert rules.parse_answer(row["completion"]) == row["majority"] == top
        # the checker's verdict is recorded for the report, and it matches the real checker
        assert row["verifier"] == int(rules.check(Task.from_dict(row["task"]), row["completion"]).passed)


@pytest.mark.model
@pytest.mark.slow
def test_reflexion_trials_retry_only_failures_with_their_reflections(tmp_path):
    stdout = run_example("reflexion_trials.py", "--tasks", "6", "--trials", "2", "--types", "retry,explanation",
                         "--max-tokens", "24", "--reflection-tokens", "32", "--out", str(tmp_path))
    rows = load_jsonl(tmp_path / "results.jsonl")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    first = [r for r in rows if r["trial"] == 1]
    assert len(first) == 6 and {r["type"] for r in first} == {"all"}
    failed = {r["task"] for r in first if not r["passed"]}
    for rtype in ("retry", "explanation"):
        again = [r for r in rows if r["type"] == rtype and r["trial"] == 2]
        assert {r["task"] for r in again} == failed  # only failures are retried, each once
        for r in again:
            assert r["memory"].startswith("Reflections on your earlier failed attempts")
            if rtype == "retry":
                assert "Your previous attempt at this task was wrong. Try again." in r["memory"]
        trials = metrics["types"][rtype]
        assert trials[0]["k"] == 6 - len(failed)
        assert trials[1]["k"] == trials[0]["k"] + sum(r["passed"] for r in again)
    assert "paired 95% interval" in stdout
    assert (tmp_path / "trials.png").stat().st_size > 0
