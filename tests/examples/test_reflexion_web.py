"""examples/reflexion_trials.py on a multi-step web env, end to end at a tiny budget.

What a user of the loop relies on: every later trial replays the same page (same task, same
seed, same first observation) as trial 1; the reflections written after failed trials are kept
in memory and reach the system prompt that is actually sent in later trials, accumulating; the
no-reflection baseline gets only the fixed retry note, never model-written text; and the
printed rates match the per-attempt log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from selfgym.types import load_jsonl

ROOT = Path(__file__).resolve().parents[2]

RETRY_NOTE = "Your previous attempt at this task was wrong. Try again."
HEADER = "Reflections on your earlier failed attempts at this task (use them):"


def run_example(name: str, *argv: str, timeout: int = 600) -> str:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / name), *argv], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=str(ROOT))
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc.stdout


@pytest.mark.model
@pytest.mark.slow
def test_reflexion_on_web_pages_replays_the_page_and_carries_reflections(tmp_path):
    stdout = run_example("reflexion_trials.py", "--env-id", "selfgym/Web-click-button-v0",
                         "--env-kwargs", '{"max_steps": 2}', "--backend", "llamacpp", "--tasks", "2",
                         "--trials", "3", "--max-tokens", "12", "--reflection-tokens", "24",
                         "--out", str(tmp_path))
    rows = load_jsonl(tmp_path / "results.jsonl")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    first = {r["task"]: r for r in rows if r["trial"] == 1}
    assert len(first) == 2 and {r["type"] for r in first.values()} == {"all"}
    assert all(r["system"] and r["actions"] and len(r["actions"]) <= 2 for r in rows)  # episodes of 1-2 steps
    failed = {t for t, r in first.items() if not r["passed"]}
    assert failed, "the default model fails at least one of these two click-button pages at trial 1"
    for rtype in ("retry", "explanation"):
        mine = [r for r in rows if r["type"] == rtype]
        for r in mine:  # a later trial is the same task on the same seed: the same page
            t1 = first[r["task"]]
            assert (r["seed"], r["task_id"], r["observation"]) == (t1["seed"], t1["task_id"], t1["observation"])
            assert r["observation"].startswith("Instruction: Click on the")
        still = set(failed)
        for trial in (2, 3):
            again = {r["task"]: r for r in mine if r["trial"] == trial}
            assert set(again) == still  # exactly the tasks not solved yet are retried
            for r in again.values():
                notes = [ln for ln in r["memory"].splitlines()[1:] if ln[:1].isdigit()]
                assert r["memory"].startswith(HEADER) and len(notes) == trial - 1  # one note per failed trial
                assert r["memory"] in r["system"]  # the memory is in the prompt that was sent
                assert not any(r["memory"] in x["system"] for x in first.values())
                if rtype == "retry":
                    assert all(n.split(". ", 1)[1] == RETRY_NOTE for n in notes)
                else:
                    assert any(n.split(". ", 1)[1] != RETRY_NOTE for n in notes)  # model-written text
            if trial == 3 and again and rtype == "explanation":  # trial 2's reflection is carried on
                by2 = {r["task"]: r for r in mine if r["trial"] == 2}
                for t, r in again.items():
                    assert by2[t]["memory"] in r["memory"]
            still = {t for t in still if not again[t]["passed"]}
        counts = [sum(1 for t in first if first[t]["passed"] or any(
            r["task"] == t and r["passed"] and r["trial"] <= k for r in mine)) for k in (1, 2, 3)]
        assert [row["k"] for row in metrics["types"][rtype]] == counts
    assert "paired 95% interval" in stdout
    assert (tmp_path / "trials.png").stat().st_size > 0
