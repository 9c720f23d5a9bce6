"""The default backend (xllamacpp in-process) and the OpenAI-compatible client, on the real model."""

import math

import pytest

from selfgym.errors import BackendError, ConfigError
from selfgym.llm import SamplingParams, make_backend
from selfgym.llm.openai import OpenAIBackend

pytestmark = pytest.mark.model

CHATS = [
    [{"role": "user", "content": "Name a colour."}],
    [{"role": "system", "content": "Answer with one number."}, {"role": "user", "content": "What is 2 + 2?"}],
    [{"role": "user", "content": "Say hello."}],
]


def test_batch_returns_text_token_ids_and_logprobs(backend):
    out = backend.generate(CHATS, SamplingParams(temperature=0.0, max_tokens=8))
    assert len(out) == len(CHATS)
    for chat, c in zip(CHATS, out):
        assert c.text and c.token_ids and len(c.token_ids) == len(c.logprobs) <= 8
        assert all(lp <= 1e-6 and math.isfinite(lp) for lp in c.logprobs)
        assert c.finish_reason in ("stop", "length")
        assert c.prompt_token_ids == backend.prompt_ids(chat)
        assert len(c.prompt_token_ids) == c.usage["prompt_tokens"]
        # the token ids are the text: the server's own detokeniser agrees
        assert backend._request("/detokenize", {"tokens": c.token_ids})["content"] == c.text


def test_n_samples_are_chat_major(backend):
    # llama.cpp is not bitwise reproducible across batch compositions and prompt-cache reuse,
    # so only a clear-cut greedy answer is compared across calls.
    out = backend.generate([CHATS[1], CHATS[1], CHATS[2]], SamplingParams(temperature=1.0, max_tokens=6, n=2, seed=7))
    assert len(out) == 6
    prompts = [c.prompt_token_ids for c in out]
    assert prompts[0] == prompts[1] == prompts[2] == prompts[3] != prompts[4] == prompts[5]
    greedy = [backend.generate(CHATS[1:2], SamplingParams(temperature=0.0, max_tokens=1))[0] for _ in range(2)]
    assert greedy[0].token_ids == greedy[1].token_ids


def test_top_logprobs_and_stop(backend):
    c = backend.generate(CHATS[1:2], SamplingParams(temperature=0.0, max_tokens=4, top_logprobs=3))[0]
    assert c.top_logprobs and all(1 <= len(t) <= 3 for t in c.top_logprobs)
    # greedy: the chosen token is the likeliest one
    assert math.isclose(max(c.top_logprobs[0].values()), c.logprobs[0], abs_tol=1e-4)
    full = backend.generate(CHATS[:1], SamplingParams(temperature=0.0, max_tokens=12))[0].text
    cut = full.split()[1] if len(full.split()) > 1 else full[-2:]
    stopped = backend.generate(CHATS[:1], SamplingParams(temperature=0.0, max_tokens=12, stop=[cut]))[0]
    assert cut not in stopped.text and stopped.finish_reason == "stop"


def test_prefilled_assistant_turn_returns_only_the_continuation(backend):
    chat = [{"role": "user", "content": "Count: 1, 2, 3"}, {"role": "assistant", "content": "1, 2, 3, 4,"}]
    c = backend.generate([chat], SamplingParams(temperature=0.0, max_tokens=3))[0]
    assert not c.text.startswith("1, 2, 3, 4,")


def test_openai_client_against_the_running_server(backend):
    client = OpenAIBackend(backend.server.url)  # model name discovered from /v1/models
    assert client.model
    out = client.generate(CHATS[1:2], SamplingParams(temperature=0.0, max_tokens=1))
    ref = backend.generate(CHATS[1:2], SamplingParams(temperature=0.0, max_tokens=1))
    assert out[0].token_ids == ref[0].token_ids  # the same model answers the same clear-cut question
    out = client.generate(CHATS, SamplingParams(temperature=0.7, max_tokens=5))
    assert len(out) == 3 and all(c.token_ids and len(c.token_ids) == len(c.logprobs) for c in out)
    # the OpenAI client finds llama.cpp's /apply-template and /tokenize and fills the prompt ids
    assert out[0].prompt_token_ids and out[0].prompt_token_ids == backend.prompt_ids(CHATS[0])
    assert client.prompt_ids_source == "llamacpp"
    bare = OpenAIBackend(backend.server.url, prompt_token_ids=False)
    assert bare.generate(CHATS[:1], SamplingParams(max_tokens=1))[0].prompt_token_ids is None
    spec = make_backend(f"openai:{backend.server.url}#{client.model}")
    assert spec.model == client.model


def test_unreachable_server_is_a_backend_error():
    client = OpenAIBackend("http://127.0.0.1:9", model="m", retries=0, timeout=2)
    with pytest.raises(BackendError, match="cannot reach"):
        client.generate(CHATS[:1], SamplingParams(max_tokens=2))


def test_bad_specs_name_the_choices():
    with pytest.raises(ConfigError, match="transformers:<path>"):
        make_backend("nonsense:x")
    with pytest.raises(ConfigError, match="openai:http"):
        make_backend("openai:")
