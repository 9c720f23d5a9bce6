"""`selfgym serve`: the default GGUF (llama.cpp) and a transformers folder as OpenAI-compatible
servers, used through ``make_backend("openai:...")`` with prompt token ids."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from selfgym.llm import SamplingParams, make_backend

pytestmark = pytest.mark.model

CHAT = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "What is 2+2?"}]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(*argv: str):
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "SELFGYM_LLAMACPP_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "selfgym.cli", "serve", *argv, "--port", str(port), "--threads", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    seen = []
    for line in proc.stdout:  # "serving ..." is printed once the server answers
        seen.append(line)
        if line.startswith("serving"):
            return proc, f"http://127.0.0.1:{port}/v1"
    proc.kill()
    pytest.fail("selfgym serve did not start:\n" + "".join(seen))


def _stop(proc) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "stopped (SIGTERM)" in out


@pytest.fixture(scope="module")
def reference_ids():
    from transformers import AutoTokenizer

    from selfgym.models import default_model_dir

    tok = AutoTokenizer.from_pretrained(default_model_dir(), local_files_only=True)
    ids = tok.apply_chat_template(CHAT, add_generation_prompt=True, tokenize=True)
    return list(ids["input_ids"] if hasattr(ids, "keys") else ids), tok


@pytest.mark.parametrize("argv, source", [((), "llamacpp"), (("default", "--engine", "transformers"), "response")],
                         ids=["gguf-llamacpp", "folder-transformers"])
def test_served_model_gives_text_and_prompt_token_ids(argv, source, reference_ids, tmp_path):
    expected, tok = reference_ids
    proc, url = _serve(*argv)
    try:
        backend = make_backend(f"openai:{url}")
        out = backend.generate([CHAT, CHAT], SamplingParams(temperature=0.0, max_tokens=8))
        assert len(out) == 2
        for c in out:
            assert c.text.strip()
            assert c.prompt_token_ids == expected  # the model's own chat template and tokenizer
            assert c.token_ids and len(c.token_ids) == len(c.logprobs)
            assert tok.decode(c.token_ids, skip_special_tokens=True).strip() == c.text.strip()
        assert backend.prompt_ids_source == source
        assert backend.model == "SmolLM2-135M-Instruct"
        # the command line drives it the same way
        from selfgym.cli import main

        run = tmp_path / "run"
        assert main(["run", "selfgym/Arithmetic-v0", "--model", f"openai:{url}", "--episodes", "1",
                     "--max-tokens", "8", "--out", str(run)]) == 0
        step = json.loads((run / "episodes.jsonl").read_text().splitlines()[0])["steps"][0]
        assert step["prompt_token_ids"] and step["token_ids"]
    finally:
        _stop(proc)


def test_bad_requests_are_http_errors_not_crashes():
    import urllib.error
    import urllib.request

    from selfgym.serve import TransformersServer
    from selfgym.models import default_model_dir

    server = TransformersServer(default_model_dir(), "m", port=0, threads=1)
    try:
        for body in (b"not json", json.dumps({"messages": []}).encode(),
                     json.dumps({"messages": [{"role": "user", "content": "x"}], "stream": True}).encode()):
            req = urllib.request.Request(server.url + "/v1/chat/completions", data=body,
                                         headers={"Content-Type": "application/json"})
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(req, timeout=30)
            assert err.value.code == 400 and "error" in json.loads(err.value.read())
    finally:
        server.close()


def test_resolve_names_what_cannot_be_served(tmp_path):
    from selfgym.errors import ConfigError
    from selfgym.serve import resolve

    assert resolve("default")[0] == "llamacpp"
    with pytest.raises(ConfigError, match="transformers folder"):
        resolve(str(tmp_path))
