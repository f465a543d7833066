#!/usr/bin/env bash
# The local stack: real Apache Kafka (KRaft, one node) and real Redis, no containers.
#   scripts/stack.sh up [kafka|redis]      start what is not already answering; return when ready
#   scripts/stack.sh down [kafka|redis]    stop what `up` started (reused servers are left alone)
#   scripts/stack.sh status [kafka|redis]  say what answers; exit 1 unless everything checked does
# Without a component, both. Addresses: KAFKA_HOST, KAFKA_PORT, KAFKA_CONTROLLER_PORT, REDIS_HOST,
# REDIS_PORT; files: STACK_DIR. A second, private broker (tests that stop Kafka) is another
# STACK_DIR and other ports:
#   STACK_DIR=/tmp/x KAFKA_PORT=19092 KAFKA_CONTROLLER_PORT=19093 scripts/stack.sh up kafka
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
source "$here/lib/common.sh"
source "$here/lib/redis.sh"
source "$here/lib/kafka.sh"

usage() {
  echo "usage: $0 up|down|status [kafka|redis]" >&2
  exit 2
}

[ $# -ge 1 ] && [ $# -le 2 ] || usage
verb=$1
case "${2:-both}" in
  kafka) components=(kafka) ;;
  redis) components=(redis) ;;
  # Redis first on the way up and last on the way down, as before components existed.
  both) components=(redis kafka) ;;
  *) usage ;;
esac

case "$verb" in
  up)
    mkdir -p "$STACK_DIR"
    for c in "${components[@]}"; do "${c}_up"; done
    ;;
  down)
    for ((i = ${#components[@]} - 1; i >= 0; i--)); do "${components[i]}_down"; done
    ;;
  status) # exits 1 unless every component checked answers
    answering=0
    # Printed Kafka first, as before components existed.
    for ((i = ${#components[@]} - 1; i >= 0; i--)); do "${components[i]}_status"; done
    for c in "${components[@]}"; do "${c}_answers" || answering=1; done
    exit "$answering"
    ;;
  *) usage ;;
esac
