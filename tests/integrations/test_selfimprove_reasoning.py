"""Expert iteration (STaR options) on ``selfgym/Reasoning-v0`` end to end, at a tiny budget.

What a user of ``examples/expert_iteration.py`` relies on, checked on a reasoning-gym dataset:
every example trained on is a reply the env's own scorer accepts (scored again here, through
the env), no held-out problem is trained on or shown as a worked example (compared by id and by
problem text), and ``--from-base`` fine-tunes on every example accepted so far each round.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

ENV_KWARGS = {"dataset": "aiw", "level": 0, "max_attempts": 1}


@pytest.mark.model
@pytest.mark.slow
def test_star_on_reasoning_trains_only_on_verified_replies(run_expert_iteration):
    pytest.importorskip("reasoning_gym")
    import gymnasium as gym

    import selfgym.envs  # noqa: F401 - registers the ids
    from selfgym.envs.reasoning.env import ReasoningEnv

    stdout, metrics, data, held = run_expert_iteration(
        ["--env-id", "selfgym/Reasoning-v0", "--env-kwargs", json.dumps(ENV_KWARGS), "--shots", "2",
         "--train-tasks", "6", "--eval-tasks", "6", "--samples", "4", "--rounds", "2", "--max-new-tokens", "8",
         "--epochs", "1", "--from-base", "--max-answer-chars", "40", "--share-prefix"])
    env = gym.make("selfgym/Reasoning-v0", **ENV_KWARGS)
    reasoning: Any = env.unwrapped  # Any: the type checker does not narrow it by the isinstance below
    assert isinstance(reasoning, ReasoningEnv)
    find_task = reasoning.find_task
    try:
        # every example trained on scores 1 with the env's scorer, and is short as asked
        assert data, "aiw level 0 with worked examples yields right samples (about 1 in 6) in 48 draws"
        for row in data:
            env.reset(seed=0, options={"task": row["task"]})
            _, reward, terminated, _, info = env.step(row["completion"])
            assert terminated and reward == 1.0 and info["verdict"]["passed"], row
            assert row["verifier"] == 1 and row["completion"] in row["samples"]
            assert len(row["completion"].strip()) <= 40
        # held-out problems: distinct, never trained on, never a worked example (by id and by text)
        held_prompts = [find_task(r["task"]).prompt for r in held]
        assert len(held) == 6 and len(set(held_prompts)) == 6
        train_ids = {r["task"]["id"] for r in data}
        shown = set(metrics["worked_examples"])
        assert len(shown) == 2
        assert not ({r["task"] for r in held} & (train_ids | shown))
        other_prompts = {r["task"]["prompt"] for r in data} | {find_task(i).prompt for i in shown}
        assert not set(held_prompts) & other_prompts
    finally:
        env.close()

    # --from-base: each round trains the base model on everything accepted so far
    first, second = metrics["rounds"]
    assert first["trained_on"] + second["trained_on"] == len(data)
    assert second["sft"]["examples"] == len(data)
    assert first["sft"]["examples"] == first["trained_on"]
    # the printed held-out rates agree with the per-task file, with their intervals
    for row in metrics["heldout"]:
        assert row["k"] == sum(r[row["name"]] for r in held) and row["n"] == 6
        assert f"[{row['lo']:.1%}, {row['hi']:.1%}]" in stdout
    assert "paired 95% bootstrap interval" in stdout


@pytest.mark.model
def test_shared_prefix_generation_gives_the_plain_completions():
    """``share_prefix`` only saves work: greedy replies are the same as without it, row for row."""
    pytest.importorskip("reasoning_gym")
    from selfgym.integrations import selfimprove as si

    system = {"role": "system", "content": "You solve reasoning problems. Give the answer inside <answer></answer>."}
    shots = [{"role": "user", "content": "Ann has 2 brothers and 3 sisters. How many sisters does Ann's brother have?"},
             {"role": "assistant", "content": "<answer>4</answer>"}]
    questions = ["Bob has 1 sister. How many sisters does Bob have?", "What is 2 + 3?",
                 "Eve has 4 brothers and she also has 1 sisters. How many sisters does Eve's brother have?",
                 "Name a colour.", "What is 7 * 6?"]
    chats = [[system, *shots, {"role": "user", "content": q}] for q in questions]
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the examples' setting; several threads only spin on a shared CPU
    try:
        model, tokenizer = si.load_policy()
        plain = si.generate(model, tokenizer, chats, 1, 0.0, max_new_tokens=8, batch_size=4)
        shared = si.generate(model, tokenizer, chats, 1, 0.0, max_new_tokens=8, batch_size=4, share_prefix=True)
        two = si.generate(model, tokenizer, chats[:2], 2, 0.8, max_new_tokens=8, batch_size=4, share_prefix=True)
        # copies of one prompt run its own tokens once and share that cache: still the plain replies
        copies = si.generate(model, tokenizer, chats[:3], 3, 0.0, max_new_tokens=8, batch_size=2, share_prefix=True)
    finally:
        torch.set_num_threads(threads)
    assert shared == plain and all(len(r) == 1 for r in shared)
    assert copies == [r * 3 for r in plain[:3]]
    assert [len(r) for r in two] == [2, 2]  # n samples per chat, in the chats' order


@pytest.mark.model
def test_completion_loss_is_the_library_loss_and_long_examples_are_refused():
    """Training computes logits only at the answer's positions, for the library's own loss value;
    an example longer than ``max_length`` is an error, never an answer cut away in silence."""
    import torch

    from selfgym.integrations import selfimprove as si

    model, tokenizer = si.load_policy()
    ids = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 0, 0]])
    mask = torch.tensor([[1] * 8, [1] * 6 + [0, 0]])
    labels = torch.tensor([[-100] * 5 + [6, 7, 8], [-100] * 3 + [12, 13, 14, -100, -100]])
    with torch.no_grad():
        expected = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        got = si._completion_loss(model, ids, mask, labels)
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-5)
    chat = [{"role": "user", "content": "word " * 200}]
    with pytest.raises(ValueError, match="max_length"):
        si.sft(model, tokenizer, [(chat, "ok")], max_length=64)
