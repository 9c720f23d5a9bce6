"""GRPO on both seats: one shared policy, each seat's dialogue a sample with its own reward, a
per-seat baseline, masks on the seat's own tokens; one step through the project's runner and
one through TRL's GRPOTrainer with the default model."""

from __future__ import annotations

import numpy as np
import pytest

from selfgym.envs.negotiation.contexts import to_task
from selfgym.envs.negotiation.partners import FairPartner, RandomPartner
from selfgym.integrations.selfplay import SelfPlayRollout, play_groups, seat_reward, seat_samples


@pytest.fixture(scope="module")
def tokenizer():
    transformers = pytest.importorskip("transformers")
    from selfgym.models import default_model_dir

    try:
        path = default_model_dir()
    except Exception as exc:  # noqa: BLE001 - the default model is fetched by scripts/setup.sh
        pytest.skip(f"the default model is not installed: {exc}")
    return transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)


def test_seat_samples_mask_own_tokens_and_use_per_seat_baselines(tokenizer, ctx):
    task = to_task(ctx)
    records = play_groups(RandomPartner(seed=1), [task], group_size=6, seed=0, max_messages=8)
    samples = seat_samples(records, tokenizer)
    assert {s.seat for s in samples} == {0, 1}
    for s in samples:
        r = records[s.game]
        assert s.reward == r.metrics["rewards"][s.seat]
        own = [tok for tok, m in zip(s.completion_ids, s.env_mask, strict=False) if m]
        text = tokenizer.decode(own)
        said = [m["content"] for m in r.clean[s.seat] if m["role"] == "assistant"]
        heard = [m["content"] for m in r.clean[s.seat] if m["role"] == "user"]
        assert all(x in text for x in said), "every own output is trained on"
        assert not any(h in text for h in heard if len(h) > 20), "nothing the seat read is trained on"
        assert len(s.env_mask) == len(s.completion_ids) and s.env_mask[0] == 1
        assert r.clean[s.seat][0]["content"] in tokenizer.decode(s.prompt_ids)
    for seat in (0, 1):
        mine = [s for s in samples if s.seat == seat]
        mean = np.mean([s.reward for s in mine])
        assert all(abs(s.advantage - (s.reward - mean)) < 1e-9 for s in mine), "baseline: the seat's own group mean"
    assert abs(sum(s.advantage for s in samples if s.seat == 0)) < 1e-9


def test_rollout_func_gives_each_prompt_its_seat(tokenizer, ctx):
    class FakePolicy:
        def __init__(self):
            self.agent, self.tokenizer = FairPartner(), tokenizer
            self.model = type("M", (), {"training": False})()

        def eval_mode(self):
            pass

    task = to_task(ctx)
    rollout = SelfPlayRollout(FakePolicy(), [task], group_size=3, max_messages=10)
    p0, p1 = SelfPlayRollout.prompt(task.id, 0), SelfPlayRollout.prompt(task.id, 1)
    out = rollout([p0, p0, p0, p1, p1, p1])
    assert len(rollout.records) == 3, "both seats' prompts share one group of games"
    rewards = [r.metrics["rewards"] for r in rollout.records]
    assert out["seat_reward"] == [rw[0] for rw in rewards] + [rw[1] for rw in rewards]
    assert seat_reward(seat_reward=out["seat_reward"]) == out["seat_reward"]
    assert all(len(m) == len(c) for m, c in zip(out["env_mask"], out["completion_ids"], strict=False))


@pytest.mark.model
def test_two_real_grpo_steps_on_both_seats(tmp_path, ctx):
    """One step through the project's runner, one through TRL; both change the weights."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("trl")
    from selfgym.integrations.selfplay import Policy, grpo_step, trl_grpo_step
    from selfgym.llm import SamplingParams

    torch.manual_seed(0)
    policy = Policy.load("default", sampling=SamplingParams(temperature=1.0, max_tokens=16, seed=0))
    task = to_task(ctx)
    records = play_groups(policy.agent, [task], group_size=2, seed=0, max_messages=4)
    samples = seat_samples(records, policy.tokenizer)
    assert {s.seat for s in samples} == {0, 1}
    before = policy.parameters_copy()
    opt = torch.optim.SGD(policy.model.parameters(), lr=1e-3)
    if all(s.advantage == 0 for s in samples):  # equal rewards in the group: give the step a signal
        samples[0].advantage = 1.0
    out = grpo_step(policy, samples, opt)
    assert out["seats"][0] > 0 and out["seats"][1] > 0
    assert policy.weight_change(before)["tensors_changed"] > 0
    before = policy.parameters_copy()
    out = trl_grpo_step(policy, [task], group_size=2, output_dir=str(tmp_path), learning_rate=1e-3, max_messages=4)
    assert out["steps"] == 1 and out["samples"][0] == 2 and out["samples"][1] == 2
    # TRL's advantages are zero when both games of a seat scored alike; the step still runs.
    assert out["loss"] is not None
