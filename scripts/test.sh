#!/usr/bin/env bash
# Installs everything (Debian packages, Docker engine, Python packages, sandbox image), then
# runs the whole test suite. This is the command CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
exec python3 -m pytest -q -p no:cacheprovider --timeout=900 "$@" tests
