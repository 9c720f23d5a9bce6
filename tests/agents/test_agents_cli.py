"""`selfgym run` and `selfgym report` end to end."""

import json

import pytest

from selfgym.cli import main
from selfgym.run_cli import family_ids


def test_run_and_report_without_a_model(tmp_path):
    out = tmp_path / "run"
    assert main(["run", "selfgym/Arithmetic-v0", "--agent", "constant", "--episodes", "3", "--out", str(out)]) == 0
    lines = (out / "episodes.jsonl").read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[0])["env_id"] == "selfgym/Arithmetic-v0"
    summary = json.loads((out / "summary.json").read_text())["selfgym/Arithmetic-v0"]
    assert summary["episodes"] == 3 and summary["success"] == 0.0
    assert main(["report", str(out)]) == 0
    for name in ("reward_by_episode.png", "reward_by_trial.png", "success_by_task.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.model
def test_run_with_the_default_model(tmp_path, backend):
    out = tmp_path / "run"
    rc = main(["run", "selfgym/Arithmetic-v0", "--episodes", "2", "--max-tokens", "12", "--out", str(out),
               "--env-kwargs", '{"level": 1, "max_attempts": 1}'])
    assert rc == 0
    episodes = [json.loads(x) for x in (out / "episodes.jsonl").read_text().splitlines()]
    assert len(episodes) == 2 and episodes[0]["steps"][0]["token_ids"]
    assert json.loads((out / "config.json").read_text())["backend"].startswith("llamacpp:")


def test_all_picks_one_id_per_family():
    ids = family_ids()
    assert "selfgym/Arithmetic-v0" in ids
    import selfgym

    families = {e.family for e in selfgym.catalog("gymnasium")}
    assert len(ids) == len(families)
