# Shared settings and helpers of the local cluster scripts (k8s/cluster/). Sourced, never run.
#
# Two places hold state, kept apart on purpose:
#   - the build cache, outside the clone and keyed by version, so every clone on a machine (and
#     CI's fresh clone) reuses binaries that take ~20 minutes to build cold;
#   - the cluster's own state (certificates, etcd data, containerd's store, logs, pids), under
#     .stack/cluster in this clone; `cluster:down --purge` deletes it.

CLUSTER_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOG_TAG=cluster
# say, die, apt_install, pid_alive and stop_pid, as the local stack's scripts have them.
source "$CLUSTER_SCRIPTS/../../scripts/lib/common.sh"

# Pinned versions: one line each, and each names its own cache folder, so bumping one rebuilds
# only that one.
K8S_VERSION=1.37.2 # kube-apiserver, controller-manager, scheduler, kubelet, kube-proxy, kubectl
ETCD_VERSION=3.7.3
HELM_VERSION=4.3.2
KEDA_VERSION=2.20.2
COREDNS_VERSION=1.15.0
LOCAL_PATH_VERSION=0.0.30 # rancher's local-path-provisioner, kind's storage too
SKAFFOLD_VERSION=2.19.0
PROMETHEUS_OPERATOR_VERSION=0.93.0 # its CRDs only: the chart's ServiceMonitor and PrometheusRule
STRIMZI_VERSION=0.49.1             # its CRDs only: the operator cannot run here

SPILLWAY_CACHE=${SPILLWAY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/spillway}
# bin_dir <component> <version>: where that build's binaries live.
bin_dir() { echo "$SPILLWAY_CACHE/bin/$1-v$2"; }
K8S_BIN=$(bin_dir kubernetes "$K8S_VERSION")
ETCD_BIN=$(bin_dir etcd "$ETCD_VERSION")
HELM_BIN=$(bin_dir helm "$HELM_VERSION")
KEDA_BIN=$(bin_dir keda "$KEDA_VERSION")
COREDNS_BIN=$(bin_dir coredns "$COREDNS_VERSION")
LOCAL_PATH_BIN=$(bin_dir local-path-provisioner "$LOCAL_PATH_VERSION")
SKAFFOLD_BIN=$(bin_dir skaffold "$SKAFFOLD_VERSION")

CLUSTER_DIR=${CLUSTER_DIR:-$STACK_DIR/cluster}
PKI_DIR=$CLUSTER_DIR/pki
RUN_DIR=$CLUSTER_DIR/run
LOG_DIR=$CLUSTER_DIR/logs
KUBECONFIG_FILE=$PKI_DIR/admin.kubeconfig

# The network: every address lives on one bridge of this machine and nowhere else. The node's
# own address is the bridge's gateway address, so the API server, the kubelet and the cluster's
# Kafka are reachable from pods without listening on any interface that leaves the machine.
CLUSTER_BRIDGE=${CLUSTER_BRIDGE:-spillway0}
NODE_NAME=spillway-node
NODE_IP=${CLUSTER_NODE_IP:-10.244.0.1}
POD_CIDR=${CLUSTER_POD_CIDR:-10.244.0.0/24}
SERVICE_CIDR=${CLUSTER_SERVICE_CIDR:-10.96.0.0/16}
API_SERVICE_IP=10.96.0.1 # the first address of SERVICE_CIDR: the `kubernetes` Service
DNS_SERVICE_IP=10.96.0.10
API_SERVER=https://$NODE_IP:6443
# The cluster's Kafka (the project's broker from Maven jars, standing in for Strimzi's).
CLUSTER_KAFKA=$NODE_IP:19092

kubectl() { "$K8S_BIN/kubectl" --kubeconfig="$KUBECONFIG_FILE" "$@"; }

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every half second.
wait_for() {
  local limit=$1 what=$2
  local deadline=$((SECONDS + limit))
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
  say "$what: ready"
}

# ensure_packages <command>=<package>...: installs the packages whose commands are missing.
ensure_packages() {
  local missing=() pair
  for pair; do command -v "${pair%%=*}" >/dev/null || missing+=("${pair#*=}"); done
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}

# write_config <file> < content: replaces the file only when the content differs. A running
# kube-proxy exits when its configuration file is rewritten, even with the same content.
write_config() {
  local content
  content=$(cat)
  [ -f "$1" ] && [ "$(cat "$1")" = "$content" ] && return 0
  printf '%s\n' "$content" >"$1"
}

# --- daemons: every process the cluster runs on the host, by name, with a pid file and a log ---

daemon_pid() { echo "$RUN_DIR/$1.pid"; }
daemon_alive() { pid_alive "$(daemon_pid "$1")"; }

# start_daemon <name> <command>...: runs it in its own session (a Ctrl-C in the shell that ran
# cluster:up does not reach it), unless it already runs.
start_daemon() {
  local name=$1
  shift
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  if daemon_alive "$name"; then
    say "$name: already running"
    return 0
  fi
  # The previous run's log stays beside the new one for whoever debugs a restart.
  [ -s "$LOG_DIR/$name.log" ] && mv "$LOG_DIR/$name.log" "$LOG_DIR/$name.log.1"
  setsid "$@" </dev/null >"$LOG_DIR/$name.log" 2>&1 &
  echo $! >"$(daemon_pid "$name")"
}

# stop_daemon <name>: TERM, up to 20 s, then KILL. Only what start_daemon started.
stop_daemon() { stop_pid "$1" "$(daemon_pid "$1")"; }

# assert_alive <name>: fails the run with the end of its log when it died during start-up.
assert_alive() {
  daemon_alive "$1" && return 0
  tail -n 20 "$LOG_DIR/$1.log" >&2
  die "$1 exited; its log: $LOG_DIR/$1.log"
}
