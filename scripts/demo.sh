#!/usr/bin/env bash
# Installs selfgym, then runs the main job on the embedded defaults:
#  1. sample solutions (right and planted wrong) verified in the Docker sandbox;
#  2. the default model (SmolLM2-135M-Instruct, shipped by a PyPI package) over a few tasks of
#     every env family, with a summary table;
#  3. self-improvement, measured: one round of expert iteration (the model samples answers to
#     one-digit arithmetic, keeps those the checker accepts, fine-tunes on them) and its
#     held-out success before and after, with 95% intervals.
set -euo pipefail
cd "$(dirname "$0")/.."
demo_start=$(date +%s)
demo_total() { echo "demo total time: $(( $(date +%s) - demo_start )) s"; }
trap demo_total EXIT
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
selfgym demo
selfgym run --all --episodes 2 --max-steps 4 --max-tokens 64 "$@"
python3 examples/expert_iteration.py --env-kwargs '{"level": 1, "max_attempts": 1}' --label verifier \
    --train-tasks 64 --eval-tasks 121 --samples 4 --rounds 1 --keep-per-task 2 --epochs 3 \
    --learning-rate 5e-5 --max-new-tokens 16 --out runs/demo_expert_iteration
