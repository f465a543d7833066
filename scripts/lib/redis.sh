# Redis for the local stack: reuse one that answers, else start redis-server under .stack/redis.
# Sourced by scripts/stack.sh after lib/common.sh.

REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}
REDIS_DIR=$STACK_DIR/redis
REDIS_PID=$REDIS_DIR/redis.pid

redis_answers() { [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }
redis_loading() { redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null | grep -q '^LOADING'; }

redis_up() {
  command -v redis-server >/dev/null || apt_install redis-server
  if redis_answers; then
    say "redis already answering on $REDIS_HOST:$REDIS_PORT (reused)"
    return 0
  fi
  if redis_loading; then
    # Started a moment ago with a large append-only file: it answers once the data is loaded.
    wait_until 300 "redis on $REDIS_HOST:$REDIS_PORT (loaded its data)" redis_answers ||
      die "redis still loading its data after 300 s"
    return 0
  fi
  port_open "$REDIS_HOST" "$REDIS_PORT" && die "port $REDIS_PORT is taken by something that is not Redis"
  mkdir -p "$REDIS_DIR"
  # appendonly: the same durability the chart's Redis uses, so local behaviour matches.
  redis-server --bind "$REDIS_HOST" --port "$REDIS_PORT" --dir "$REDIS_DIR" \
    --appendonly yes --save "" --daemonize yes --pidfile "$REDIS_PID" \
    --logfile "$REDIS_DIR/redis.log" ||
    die "redis-server did not start; see $REDIS_DIR/redis.log"
  # Up to a few minutes: a large append-only file from earlier runs is loaded first.
  wait_until 300 "redis on $REDIS_HOST:$REDIS_PORT" redis_answers ||
    die "redis did not answer within 300 s; see $REDIS_DIR/redis.log"
}

redis_down() { stop_pid redis "$REDIS_PID"; }

redis_status() {
  if redis_answers; then echo "redis: up on $REDIS_HOST:$REDIS_PORT"; else echo "redis: down"; fi
}
