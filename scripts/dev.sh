#!/usr/bin/env bash
# `npm run dev`: the stack, the API (PORT 8080) and one worker (8081) in the foreground.
# Ctrl-C stops everything this script started; a stack that was already running is left alone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/common.sh
source scripts/lib/node-deps.sh

ensure_node_deps
# Built when a source is newer than the last build (tsc rewrites every file it emits).
if [ ! -f dist/services/api/main.js ] ||
  [ -n "$(find services tsconfig.json tsconfig.build.json package-lock.json -newer dist/services/api/main.js -print -quit)" ]; then
  npm run --silent build
fi
started_stack=false
bash scripts/stack.sh status >/dev/null || started_stack=true
bash scripts/stack.sh up

export KAFKA_BROKERS=${KAFKA_BROKERS:-${KAFKA_HOST:-127.0.0.1}:${KAFKA_PORT:-9092}}
export REDIS_URL=${REDIS_URL:-redis://${REDIS_HOST:-127.0.0.1}:${REDIS_PORT:-6379}}

pids=()
cleanup() {
  say "stopping"
  [ ${#pids[@]} -eq 0 ] || kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  if $started_stack; then bash scripts/stack.sh down; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# setsid: Ctrl-C in a terminal signals the whole process group; the services must get exactly one
# SIGTERM from cleanup (a second signal means "exit now, skip the drain").
PORT=${API_PORT:-8080} setsid node dist/services/api/main.js &
pids+=($!)
# The demo task types (echo, sleep, fail, flaky, cpu): off in the images and the chart.
DEMO_HANDLERS=${DEMO_HANDLERS:-true} PORT=${WORKER_PORT:-8081} setsid node dist/services/worker/main.js &
pids+=($!)
say "api on http://127.0.0.1:${API_PORT:-8080}, worker probes on :${WORKER_PORT:-8081}; Ctrl-C stops"
say "console on http://127.0.0.1:${API_PORT:-8080}/console"
wait -n "${pids[@]}" || true
say "a service exited; stopping the rest"
exit 1
