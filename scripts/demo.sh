#!/usr/bin/env bash
# Installs selfgym and runs the main job on the embedded default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec selfgym demo "$@"
