"""The transformers backend on the converted default model: batching, logprobs, same tokens as llama.cpp."""

import math

import pytest

from selfgym.llm import SamplingParams

pytestmark = pytest.mark.model

CHATS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name one prime number greater than ten, please."}],
]


def test_batched_greedy_matches_one_by_one_and_logprobs_match_score(hf_backend):
    params = SamplingParams(temperature=0.0, max_tokens=6)
    batch = hf_backend.generate(CHATS, params)
    single = [hf_backend.generate([c], params)[0] for c in CHATS]
    assert [c.token_ids for c in batch] == [c.token_ids for c in single]  # left padding is right
    for c in batch:
        assert hf_backend.tokenizer.decode(c.token_ids, skip_special_tokens=True) == c.text
        assert len(c.logprobs) == len(c.token_ids) and all(lp <= 0 for lp in c.logprobs)
    scored = hf_backend.score(CHATS[:1], [batch[0].text])[0]
    assert len(scored) == len(batch[0].logprobs)
    assert all(math.isclose(a, b, abs_tol=1e-3) for a, b in zip(scored, batch[0].logprobs))


def test_sampling_n_seed_and_top_logprobs(hf_backend):
    params = SamplingParams(temperature=1.0, max_tokens=4, n=2, seed=3, top_logprobs=2)
    out = hf_backend.generate(CHATS[:1], params)
    assert len(out) == 2 and all(len(c.top_logprobs) == len(c.token_ids) for c in out)
    assert [c.text for c in out] == [c.text for c in hf_backend.generate(CHATS[:1], params)]


def test_same_prompt_tokens_as_llamacpp(hf_backend, backend):
    for chat in CHATS:
        assert hf_backend.prompt_ids(chat) == backend.prompt_ids(chat)
