"""Expert iteration on simulated web pages (``selfgym/Web-click-button-v0``) end to end, at a tiny budget.

What a user of ``examples/expert_iteration.py --distinct-by payload`` relies on when the instruction
repeats over distinct pages: every example trained on is an action the env itself rewards (stepped
again here, on the same page), and no held-out page is trained on or shown as a worked example
(compared by id and by the whole page).
"""

from __future__ import annotations

import json

import pytest

ENV_ID = "selfgym/Web-click-button-v0"


@pytest.mark.model
@pytest.mark.slow
def test_expert_iteration_on_web_pages_trains_only_on_rewarded_actions(run_expert_iteration):
    import gymnasium as gym

    import selfgym.envs  # noqa: F401 - registers the ids
    from selfgym.integrations.trl import env_tasks

    _, metrics, data, held = run_expert_iteration(
        ["--env-id", ENV_ID, "--env-kwargs", "{}", "--distinct-by", "payload", "--shots", "2", "--share-prefix",
         "--train-tasks", "16", "--eval-tasks", "4", "--samples", "8", "--rounds", "1", "--max-new-tokens", "8",
         "--epochs", "1"])
    env = gym.make(ENV_ID)
    try:
        # every example trained on is a click the page rewards, replayed on that very page
        assert data, "with two worked examples about 1 sample in 20 clicks the right button; 128 draws here"
        for row in data:
            env.reset(seed=0, options={"task": row["task"]})
            _, reward, terminated, _, info = env.step(row["completion"])
            assert terminated and reward == 1.0, (row, info)
            assert row["verifier"] == 1 and row["completion"] in row["samples"]
    finally:
        env.close()

    # held-out pages: distinct, never trained on, never a worked example (by id and by the page)
    def page(task: dict) -> str:
        return json.dumps(task["payload"], sort_keys=True)

    shown_ids = set(metrics["worked_examples"])
    held_ids = {r["task"] for r in held}
    assert len(held) == 4 and len(held_ids) == 4 and len(shown_ids) == 2
    assert not held_ids & ({r["task"]["id"] for r in data} | shown_ids)
    # the script drew held-out pages from seed 1,000,000 and worked examples from 2,000,000
    by_id = {t.id: t for t in env_tasks(ENV_ID, 16, seed=1_000_000, env_kwargs={})}
    held_pages = {json.dumps(by_id[i].payload, sort_keys=True) for i in held_ids}
    shown = {t.id: t for t in env_tasks(ENV_ID, 100, seed=2_000_000, env_kwargs={})}
    shown_pages = {json.dumps(shown[i].payload, sort_keys=True) for i in shown_ids}
    assert len(held_pages) == 4
    assert not held_pages & ({page(r["task"]) for r in data} | shown_pages)
    for row in metrics["heldout"]:
        assert row["k"] == sum(r[row["name"]] for r in held) and row["n"] == 4
