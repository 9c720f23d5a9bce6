"""Backend start-up time and decoding throughput, one backend per run.

    python benchmarks/bench_backends.py --model default
    python benchmarks/bench_backends.py --model transformers:default
    $VENV/bin/python benchmarks/bench_backends.py --model vllm:<model folder>       # vLLM in-process
    python benchmarks/bench_backends.py --vllm-server $VENV/bin/python              # vLLM's OpenAI server

``load_s``: building the backend (for ``--vllm-server``: starting the server until ``/v1/models``
answers). ``first_call_s``: the first 1-token request (warm-up, graph building). Then, greedy,
``--max-tokens`` per chat on Arithmetic-v0 first prompts: ``batched_tok_s`` (``--chats`` chats in one
``generate`` call) and ``single_tok_s`` (one chat per call); medians of ``--repeats``. One JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import time
import urllib.request

import gymnasium as gym

import selfgym  # noqa: F401 - registers ids
from selfgym.llm import SamplingParams, make_backend


def prompts(n: int) -> list[list[dict]]:
    env = gym.make("selfgym/Arithmetic-v0", level=2, max_attempts=1)
    chats = []
    for i in range(n):
        _, info = env.reset(seed=i)
        chats.append(info["messages"])
    return chats


def start_vllm_server(python: str, model: str) -> tuple[subprocess.Popen, str, float]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"), "HF_HUB_OFFLINE": "1"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([python, "-m", "vllm.entrypoints.openai.api_server", "--model", model,
                             "--served-model-name", "bench", "--host", "127.0.0.1", "--port", str(port),
                             "--max-model-len", "2048", "--enforce-eager", "--return-tokens-as-token-ids"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            urllib.request.urlopen(url + "/v1/models", timeout=2)
            return proc, url, time.perf_counter() - t0
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("the vLLM server exited while starting") from None
            time.sleep(0.5)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="default", help="backend spec (see selfgym.llm.make_backend)")
    p.add_argument("--vllm-server", metavar="PYTHON", help="start vLLM's OpenAI server with this interpreter")
    p.add_argument("--chats", type=int, default=8, help="chats in one batched call")
    p.add_argument("--max-tokens", type=int, default=32, help="tokens per chat (greedy)")
    p.add_argument("--repeats", type=int, default=3, help="repeats; medians are reported")
    args = p.parse_args()

    proc = None
    if args.vllm_server:
        from selfgym.models import default_model_dir

        proc, url, load_s = start_vllm_server(args.vllm_server, str(default_model_dir()))
        spec = f"openai:{url}#bench"
        backend = make_backend(spec)
    else:
        spec = args.model
        if spec.startswith("vllm:") and spec.endswith(":default"):
            from selfgym.models import default_model_dir

            spec = f"vllm:{default_model_dir()}"
        t0 = time.perf_counter()
        backend = make_backend(spec)
        load_s = time.perf_counter() - t0
    try:
        chats = prompts(args.chats)
        greedy = SamplingParams(temperature=0.0, max_tokens=args.max_tokens, seed=0)
        t0 = time.perf_counter()
        backend.generate(chats[:1], SamplingParams(temperature=0.0, max_tokens=1))
        first_call_s = time.perf_counter() - t0

        def tok_s(batch: list[list[dict]]) -> float:
            t0 = time.perf_counter()
            out = backend.generate(batch, greedy)
            return sum(len(c.token_ids or []) for c in out) / (time.perf_counter() - t0)

        batched = [tok_s(chats) for _ in range(args.repeats)]
        single = []
        for _ in range(args.repeats):
            t0, n = time.perf_counter(), 0
            for chat in chats[:4]:
                n += sum(len(c.token_ids or []) for c in backend.generate([chat], greedy))
            single.append(n / (time.perf_counter() - t0))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=60)
    print(json.dumps({
        "backend": backend.name if not args.vllm_server else "vllm OpenAI server (--enforce-eager)",
        "load_s": round(load_s, 1), "first_call_s": round(first_call_s, 2),
        "batched_tok_s": round(statistics.median(batched), 1), "single_tok_s": round(statistics.median(single), 1),
        "chats": args.chats, "max_tokens": args.max_tokens, "repeats": args.repeats,
        "machine": f"{platform.machine()} {os.cpu_count()} cores", "loadavg": os.getloadavg()[0],
        "date": time.strftime("%Y-%m-%d"),
    }))


if __name__ == "__main__":
    main()
