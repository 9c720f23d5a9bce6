#!/usr/bin/env bash
# Starts, stops or restarts the Docker engine the way scripts/setup.sh runs it
# (dockerd --bridge=none --iptables=false, no bridge network: sandboxes need none).
#   bash scripts/docker_engine.sh start      # start dockerd unless an engine answers
#   bash scripts/docker_engine.sh stop       # SIGTERM dockerd, wait until it has exited
#   bash scripts/docker_engine.sh restart    # stop, then start; returns once `docker info` answers
#   bash scripts/docker_engine.sh status     # "up" (exit 0) or "down" (exit 1)
# Stopping the engine stops every container on it, also other users' (run it only where that is
# acceptable). Options for a second, private engine (used to rehearse a restart without touching
# the shared one): SELFGYM_DOCKERD_ARGS (more dockerd arguments, e.g. --host, --data-root,
# --exec-root, --pidfile), SELFGYM_DOCKERD_PIDFILE (default /var/run/docker.pid) and
# SELFGYM_DOCKERD_LOG (default /var/log/selfgym-dockerd.log); `docker` itself follows DOCKER_HOST.
set -euo pipefail

PIDFILE=${SELFGYM_DOCKERD_PIDFILE:-/var/run/docker.pid}
LOG=${SELFGYM_DOCKERD_LOG:-/var/log/selfgym-dockerd.log}
EXTRA=${SELFGYM_DOCKERD_ARGS:-}
WAIT_S=${SELFGYM_DOCKERD_WAIT_S:-60}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }
up() { docker info >/dev/null 2>&1; }

engine_pid() {
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  if [ -n "$pid" ] && [ -d "/proc/$pid" ] && grep -q dockerd "/proc/$pid/comm" 2>/dev/null; then
    echo "$pid"
  fi
}

start() {
  if up; then echo "docker engine: up"; return 0; fi
  command -v dockerd >/dev/null 2>&1 || { echo "no dockerd on this machine" >&2; return 1; }
  # shellcheck disable=SC2086  # EXTRA is a list of arguments
  as_root bash -c "nohup dockerd --bridge=none --iptables=false $EXTRA >>'$LOG' 2>&1 &"
  for _ in $(seq 1 "$WAIT_S"); do
    if up; then echo "docker engine: up"; return 0; fi
    sleep 1
  done
  echo "the docker engine did not answer within ${WAIT_S}s (log: $LOG)" >&2
  return 1
}

stop() {
  local pid
  pid=$(engine_pid)
  if [ -z "$pid" ]; then echo "docker engine: not running"; return 0; fi
  as_root kill -TERM "$pid"
  # dockerd stops its containers first (up to their stop timeout), then exits
  for _ in $(seq 1 $((WAIT_S * 5))); do
    [ -d "/proc/$pid" ] || { echo "docker engine: stopped"; return 0; }
    sleep 0.2
  done
  echo "dockerd ($pid) did not exit within ${WAIT_S}s; killing it" >&2
  as_root kill -KILL "$pid" || true
  sleep 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) if up; then echo up; else echo down; exit 1; fi ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
