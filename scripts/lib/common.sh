# Shared helpers for the stack scripts. Sourced, never run.

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STACK_DIR=${STACK_DIR:-$ROOT_DIR/.stack}

# LOG_TAG names the script family in messages (the cluster scripts set "cluster").
say() { printf '[%s] %s\n' "${LOG_TAG:-stack}" "$*" >&2; }
die() { printf '[%s] error: %s\n' "${LOG_TAG:-stack}" "$*" >&2; exit 1; }

# True when something accepts TCP connections on host:port.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.25 s.
wait_until() {
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.25
  done
  say "$what is ready"
}

# Installs Debian packages when a command is missing; we may be root (CI, fresh machine) or not.
apt_install() {
  command -v apt-get >/dev/null || die "cannot install $* here: install it by hand"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  say "installing $* (first run only)"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# pid_alive FILE: the process recorded in FILE is still running.
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pid NAME FILE: TERM, wait up to 20 s, then KILL. Only touches what we started.
stop_pid() {
  local name=$1 file=$2 pid
  if ! pid_alive "$file"; then
    rm -f "$file"
    say "$name: not running (or not started here)"
    return 0
  fi
  pid=$(cat "$file")
  kill "$pid"
  for _ in $(seq 80); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  rm -f "$file"
  say "$name stopped"
}
