#!/usr/bin/env bash
# Installs selfgym, then runs the main job on the embedded defaults:
#  1. sample solutions (right and planted wrong) verified in the Docker sandbox;
#  2. the default model (SmolLM2-135M-Instruct, shipped by a PyPI package) over a few tasks of
#     every env family, with a summary table;
#  3. self-improvement, measured: Reflexion across three trials on 80 one-digit arithmetic
#     tasks (the model writes a reflection after each failed attempt and retries with it),
#     against plain retries on the same tasks; success per trial with 95% intervals.
set -euo pipefail
cd "$(dirname "$0")/.."
demo_start=$(date +%s)
demo_total() { echo "demo total time: $(( $(date +%s) - demo_start )) s"; }
trap demo_total EXIT
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
selfgym demo
selfgym run --all --episodes 2 --max-steps 4 --max-tokens 64 "$@"
python3 examples/reflexion_trials.py --tasks 80 --trials 3 --types retry,explanation --out runs/demo_reflexion
