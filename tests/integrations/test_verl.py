"""verl (0.9.1, installed --no-deps): the selfgym agent loop driven by verl's own AgentLoopWorker.

The worker instantiates the registered "selfgym" loop, which generates through verl's server
manager pointed at the default model's llama.cpp server (a real generation server on CPU), and
pads the trajectories into verl's batch. What needs a GPU (FSDP actor updates, verl-managed vLLM
replicas) is not run here.
"""

import asyncio
import concurrent.futures
import json
import math
import os

import numpy as np
import pytest

verl = pytest.importorskip("verl", reason="verl is installed by scripts/setup.sh (--no-deps)")

from omegaconf import OmegaConf  # noqa: E402
from verl.experimental.agent_loop.agent_loop import AgentLoopWorker, _agent_loop_registry  # noqa: E402
from verl.protocol import DataProto  # noqa: E402
from verl.trainer.ppo.core_algos import get_adv_estimator_fn  # noqa: E402

from selfgym.errors import VerifierError  # noqa: E402
from selfgym.integrations import verl as sv  # noqa: E402

pytestmark = pytest.mark.model


class RecordingClient(sv.OpenAIServerClient):
    """The real client; it also keeps every server answer so the test can compare."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.outputs = []

    async def generate(self, request_id, **kw):
        out = await super().generate(request_id, **kw)
        self.outputs.append((list(kw["prompt_ids"]), out))
        return out


def make_config(estimator="selfgym_grpo", response_length=160):
    from selfgym.models import default_model_dir

    cfg = OmegaConf.load(os.path.join(os.path.dirname(verl.__file__), "trainer/config/_generated_ppo_trainer.yaml"))
    cfg.actor_rollout_ref.model.path = str(default_model_dir())
    r = cfg.actor_rollout_ref.rollout
    r.name, r.prompt_length, r.response_length = "vllm", 1024, response_length
    r.calculate_log_probs, r.temperature = True, 1.0
    r.agent.default_agent_loop = sv.AGENT_NAME
    r.multi_turn.max_assistant_turns = 3
    cfg.algorithm.adv_estimator = estimator
    return cfg


@pytest.fixture(scope="module")
def server_url():
    from selfgym.llm import make_backend

    return make_backend("default").server.url


def run_worker(cfg, url, rows, client_cls=RecordingClient):
    client = client_cls(cfg, url)
    worker = AgentLoopWorker(cfg, llm_client=client)
    batch = DataProto.from_dict(non_tensors={
        "raw_prompt": np.array([r["prompt"] for r in rows], dtype=object),
        "extra_info": np.array([r["extra_info"] for r in rows], dtype=object),
        "agent_name": np.array([r["agent_name"] for r in rows], dtype=object),
        "index": np.arange(len(rows)),
    }, meta_info={"validate": False})
    # verl runs its agent loops on an event loop of their own (a Ray actor's); so does this test, on a
    # thread of its own, whatever loop the calling thread may have
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, worker.generate_sequences(batch)).result(), worker, client


def test_agent_loop_is_registered_by_name():
    assert _agent_loop_registry[sv.AGENT_NAME] == {"_target_": "selfgym.integrations.verl.SelfgymAgentLoop"}


def test_multi_turn_trajectories_masks_logprobs_and_rewards(server_url):
    import gymnasium as gym

    cfg = make_config()
    rows, seen = [], set()
    for row in sv.verl_rows("selfgym/Arithmetic-v0", 8, env_kwargs={"level": 1, "max_attempts": 2}):
        if json.dumps(row["prompt"]) not in seen and len(rows) < 3:
            seen.add(json.dumps(row["prompt"]))
            rows.append(row)
    out, worker, client = run_worker(cfg, server_url, rows)
    tok = worker.tokenizer
    b = out.batch
    assert b["responses"].shape == (3, 160) and b["prompts"].shape == (3, 1024)
    gen_turns = sorted(client.outputs, key=lambda po: len(po[0]))
    for i, row in enumerate(rows):
        prompt = b["prompts"][i][b["attention_mask"][i, :1024].bool()].tolist()
        expected = tok.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=True)
        expected = expected["input_ids"] if hasattr(expected, "keys") else expected
        assert prompt == list(expected)
        n_resp = int(b["attention_mask"][i, 1024:].sum())
        resp = b["responses"][i, :n_resp].tolist()
        mask = b["response_mask"][i, :n_resp].tolist()
        lps = b["rollout_log_probs"][i, :n_resp].tolist()
        # Every server call for this sample continued exactly the tokens before it; its tokens are
        # the mask-1 spans, in order, with the server's log-probabilities.
        calls = [(p, o) for p, o in gen_turns if p[: len(prompt)] == prompt]
        assert calls, "no generation request for this sample"
        spans, start = [], None
        for j, m in enumerate(mask + [0]):
            if m and start is None:
                start = j
            if not m and start is not None:
                spans.append((start, j))
                start = None
        assert len(spans) == len(calls) == out.non_tensor_batch["__num_turns__"][i] // 2
        for (s, e), (p, o) in zip(spans, calls, strict=True):
            assert p == prompt + resp[:s]
            assert resp[s:e] == o.token_ids[: e - s]
            assert lps[s:e] == pytest.approx(o.log_probs[: e - s], abs=1e-5)
        assert all(lp == 0.0 for lp, m in zip(lps, mask, strict=True) if not m)
        # The masked-out tokens are the env's observations, rendered by the chat template.
        env_text = tok.decode([t for t, m in zip(resp, mask, strict=True) if not m])
        turn_scores = out.non_tensor_batch["turn_scores"][i]
        if len(calls) == 2:
            assert "attempt(s) left" in env_text and "<|im_start|>user" in env_text
        # The reward is the env's: replaying the decoded actions gives the same episode return.
        env = gym.make("selfgym/Arithmetic-v0", level=1, max_attempts=2)
        env.reset(options={"task": json.loads(row["extra_info"]["task"])})
        replay = [env.step(tok.decode(o.token_ids, skip_special_tokens=True))[1] for _, o in calls]
        assert turn_scores == replay
        assert float(b["rm_scores"][i].sum()) == pytest.approx(sum(replay))
        assert out.non_tensor_batch["reward_valid"][i] is True


def test_infrastructure_error_is_a_masked_sample_never_zero(server_url, oracle_code_id, dead_sandbox):
    rows = sv.verl_rows("selfgym/CodeTask-v0", 1, env_kwargs={"max_attempts": 1})
    rows[0]["extra_info"]["env_id"] = oracle_code_id
    rows[0]["extra_info"]["env_kwargs"] = {"max_attempts": 1, "sandbox": dead_sandbox}
    out, _, _ = run_worker(make_config(response_length=64), server_url, rows)
    assert out.non_tensor_batch["reward_valid"][0] is False
    assert int(out.batch["response_mask"][0].sum()) == 0 and int(out.batch["attention_mask"][0, 1024:].sum()) > 0
    assert math.isnan(float(out.batch["rm_scores"][0].sum()))
    # The same env with a live sandbox pays the verifier's reward: the oracle passes.
    rows[0]["extra_info"]["env_kwargs"] = {"max_attempts": 1, "sandbox": "process"}
    out, _, _ = run_worker(make_config(response_length=64), server_url, rows)
    assert out.non_tensor_batch["reward_valid"][0] is True and float(out.batch["rm_scores"][0].sum()) == 1.0
    # verl's stock GRPO would fold the NaN into its group: the loop refuses instead.
    rows[0]["extra_info"]["env_kwargs"] = {"max_attempts": 1, "sandbox": dead_sandbox}
    with pytest.raises(VerifierError, match="selfgym_grpo"):
        run_worker(make_config("grpo", response_length=64), server_url, rows)


def test_selfgym_grpo_leaves_masked_samples_out_of_the_group():
    import torch

    fn = get_adv_estimator_fn(sv.ESTIMATOR)
    rewards = torch.zeros(4, 3)
    rewards[:, -1] = torch.tensor([1.0, 0.0, float("nan"), 0.0])
    mask = torch.ones(4, 3)
    mask[2] = 0
    mask[3] = torch.tensor([1.0, 1.0, 0.0])
    adv, _ = fn(token_level_rewards=rewards, response_mask=mask, index=np.array(["a", "a", "a", "b"]), config=None)
    valid = torch.tensor([1.0, 0.0])
    z = (valid - valid.mean()) / (valid.std() + 1e-6)
    assert adv[0].tolist() == pytest.approx([z[0].item()] * 3)
    assert adv[1].tolist() == pytest.approx([z[1].item()] * 3)
    assert adv[2].tolist() == [0.0, 0.0, 0.0]  # masked: no advantage, and not in group a's baseline
    assert adv[3].tolist() == [0.0, 0.0, 0.0]  # a group of one has no baseline to beat
    assert torch.isfinite(adv).all()


def test_compute_score_is_the_envs_reward():
    rows = sv.verl_rows("selfgym/Arithmetic-v0", 2, env_kwargs={"level": 1, "max_attempts": 1})
    for row in rows:
        task = json.loads(row["reward_model"]["ground_truth"])
        right = sv.compute_score(row["data_source"], f"The answer is\n{task['payload']['answer']}",
                                 row["reward_model"]["ground_truth"], row["extra_info"])
        wrong = sv.compute_score(row["data_source"], f"{task['payload']['answer'] + 1}",
                                 row["reward_model"]["ground_truth"], row["extra_info"])
        assert right == {"score": 1.0, "reward_valid": True, "passed": True}
        assert wrong["score"] == 0.0 and wrong["reward_valid"] is True and wrong["passed"] is False


def test_compute_score_masks_infrastructure_errors(dead_sandbox):
    dead = dead_sandbox
    row = sv.verl_rows("selfgym/CodeTask-v0", 1, env_kwargs={"max_attempts": 1})[0]
    task = json.loads(row["reward_model"]["ground_truth"])
    extra = dict(row["extra_info"], env_kwargs={"max_attempts": 1, "sandbox": dead})
    res = sv.compute_score(row["data_source"], f"```python\n{task['payload']['solution']}\n```",
                           row["reward_model"]["ground_truth"], extra)
    assert res["reward_valid"] is False and math.isnan(res["score"])


def test_compute_score_refuses_multi_turn_envs():
    row = sv.verl_rows("selfgym/Arithmetic-v0", 1, env_kwargs={"level": 1, "max_attempts": 3})[0]
    with pytest.raises(VerifierError, match="single-turn"):
        sv.compute_score(row["data_source"], "no", row["reward_model"]["ground_truth"], row["extra_info"])
