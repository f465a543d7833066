#!/usr/bin/env bash
# The local stack: real Apache Kafka (KRaft, one node) and real Redis, no containers.
#   scripts/stack.sh up       start what is not already answering; return when both are ready
#   scripts/stack.sh down     stop what `up` started (reused servers are left alone)
#   scripts/stack.sh status
# Addresses: KAFKA_HOST, KAFKA_PORT, KAFKA_CONTROLLER_PORT, REDIS_HOST, REDIS_PORT; files: STACK_DIR.
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
source "$here/lib/common.sh"
source "$here/lib/redis.sh"
source "$here/lib/kafka.sh"

case "${1:-}" in
  up)
    mkdir -p "$STACK_DIR"
    redis_up
    kafka_up
    ;;
  down)
    kafka_down
    redis_down
    ;;
  status) # exits 1 unless both answer
    kafka_status
    redis_status
    kafka_answers && redis_answers
    ;;
  *)
    echo "usage: $0 up|down|status" >&2
    exit 2
    ;;
esac
