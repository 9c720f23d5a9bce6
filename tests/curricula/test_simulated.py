"""The simulated learner, the comparison it powers, and `selfgym curriculum compare`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from selfgym.cli import main
from selfgym.curricula import LearnerConfig, SimulatedLearner, simulated_tasks
from selfgym.curricula.compare import compare
from selfgym.types import Task


def _task(topic=0, requirement=1.0):
    return Task(id="t", family="simulated", prompt="p", payload={"topic": topic, "requirement": requirement})


def test_success_follows_the_skill_gap():
    learner = SimulatedLearner(topics=1, config=LearnerConfig(initial_skill=1.0, temperature=0.5))
    assert learner.success_prob(_task(requirement=1.0)) == pytest.approx(0.5)
    assert learner.success_prob(_task(requirement=0.0)) > 0.85
    assert learner.success_prob(_task(requirement=4.0)) < 0.01


def test_practice_has_diminishing_returns_and_easy_tasks_teach_nothing():
    cfg = LearnerConfig(initial_skill=1.2, temperature=0.01, learning_rate=0.5, margin=1.0, forgetting=0.0)
    learner = SimulatedLearner(topics=1, config=cfg)
    gains = []
    for _ in range(4):  # skill above the requirement and temperature ~0: always solved
        before = learner.skill[0]
        learner.attempt(_task(requirement=1.0))
        gains.append(learner.skill[0] - before)
    assert gains[0] == pytest.approx(0.5 * (2.0 - 1.2)) and all(a > b > 0 for a, b in zip(gains, gains[1:]))
    assert learner.skill[0] < 2.0  # never beyond requirement + margin
    skill = learner.skill[0]
    learner.attempt(_task(requirement=0.0))  # far below the skill: solved, but nothing learnt
    assert learner.skill[0] == skill


def test_too_hard_tasks_teach_nothing_and_unpractised_topics_fade():
    cfg = LearnerConfig(initial_skill=0.5, forgetting=0.1)
    learner = SimulatedLearner(topics=2, config=cfg, seed=0)
    learner.skill[1] = 3.0
    for _ in range(50):
        assert learner.attempt(_task(topic=0, requirement=20.0)) == 0.0
    assert learner.skill[0] == 0.5
    assert 0.5 < learner.skill[1] < 0.6  # 50 steps of 10% decay towards the start


def test_simulated_task_set_has_the_asked_share_of_unreachable_tasks():
    tasks = simulated_tasks(n_tasks=100, levels=5, too_hard_fraction=0.6, seed=0)
    hard = [t for t in tasks if t.difficulty["level"] >= 5 + 6]
    assert len(tasks) == 100 and len(hard) == 60
    assert all(set(t.difficulty) == {"level", "topic"} for t in tasks)  # the requirement stays hidden


def test_learning_progress_and_learnability_beat_uniform_with_many_too_hard_tasks():
    tasks = simulated_tasks(n_tasks=200, too_hard_fraction=0.5, seed=0)
    result = compare(["uniform", "learnability", "learning_progress"], steps=2500, seeds=(0, 1, 2),
                     eval_every=250, tasks=tasks)
    uniform = result.area("uniform")
    for name in ("learnability", "learning_progress"):
        assert result.area(name) > uniform + 0.03, (name, result.rows())
        assert result.final(name) > result.final("uniform") + 0.05, (name, result.rows())
        # and the gain is real in every seed, not an average of luck
        assert np.all(result.curves[name].mean(axis=1) > result.curves["uniform"].mean(axis=1))


def test_cli_compare_writes_a_png_and_a_table(tmp_path, capsys):
    out = tmp_path / "cc"
    rc = main(["curriculum", "compare", "--samplers", "uniform,learnability", "--steps", "300", "--seeds", "1",
               "--eval-every", "100", "--out", str(out)])
    assert rc == 0
    png = (out / "success.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    table = (out / "table.md").read_text()
    assert table.startswith("| sampler |") and "| uniform |" in table and "| learnability |" in table
    data = json.loads((out / "results.json").read_text())
    assert data["steps"] == [0, 100, 200, 300] and len(data["curves"]["uniform"][0]) == 4
    assert "| uniform |" in capsys.readouterr().out
    assert main(["curriculum", "compare", "--samplers", "nope", "--out", str(out)]) == 2
