# The node: containerd (Debian's) with runc, a real kubelet and kube-proxy, as host processes.
# Sourced.
#
# Two settings this machine needs and most do not, both found the hard way:
#   - containerd's CRI `restrict_oom_score_adj`: root here lacks CAP_SYS_RESOURCE, so runc cannot
#     lower a container's oom_score_adj below the kubelet's own, and without this every sandbox
#     fails with "can't get final child's PID from pipe: EOF";
#   - the kubelet's `failCgroupV1: false`: this VM runs cgroup v1, which Kubernetes 1.35+ refuses
#     unless told otherwise.
# Images are never pulled: containerd's only way out is a proxy address on which nothing
# listens, so a pull of a missing image fails at once instead of reaching a registry.

CONTAINERD_DIR=$CLUSTER_DIR/containerd
CONTAINERD_SOCK=$RUN_DIR/containerd/containerd.sock
KUBELET_DIR=$CLUSTER_DIR/kubelet
PAUSE_IMAGE=localhost/spillway-pause:1
NO_REGISTRY_PROXY=http://127.0.0.1:9 # the discard port: nothing answers there

ctr() { command ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }

containerd_up() {
  ensure_packages containerd=containerd runc=runc
  mkdir -p "$CONTAINERD_DIR" "$RUN_DIR/containerd"
  write_config "$CONTAINERD_DIR/config.toml" <<TOML
version = 2
root = "$CONTAINERD_DIR/root"
state = "$CONTAINERD_DIR/state"
[grpc]
  address = "$CONTAINERD_SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN_DIR"
    conf_dir = "$CNI_CONF_DIR"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
TOML
  start_daemon containerd env HTTP_PROXY="$NO_REGISTRY_PROXY" HTTPS_PROXY="$NO_REGISTRY_PROXY" NO_PROXY= \
    containerd --config "$CONTAINERD_DIR/config.toml"
  wait_for 30 containerd ctr version || { assert_alive containerd; die "containerd did not answer within 30 s"; }
}

kubelet_up() {
  mkdir -p "$KUBELET_DIR/root" "$KUBELET_DIR/pod-logs" "$KUBELET_DIR/volume-plugins"
  # Pods resolve through the cluster's DNS only: no host search domains or resolvers leak in.
  : >"$KUBELET_DIR/resolv.conf"
  write_config "$KUBELET_DIR/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $PKI_DIR/ca.crt }
authorization: { mode: Webhook }
tlsCertFile: $PKI_DIR/kubelet.crt
tlsPrivateKeyFile: $PKI_DIR/kubelet.key
clusterDNS: [$DNS_SERVICE_IP]
clusterDomain: cluster.local
resolvConf: $KUBELET_DIR/resolv.conf
podLogsDir: $KUBELET_DIR/pod-logs
volumePluginDir: $KUBELET_DIR/volume-plugins
# A development node on a shared machine: reserve nothing, evict only when truly short.
enforceNodeAllocatable: []
evictionHard: { memory.available: 100Mi, nodefs.available: 2%, imagefs.available: 2% }
# Imported images cannot be pulled again: never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
YAML
  start_daemon kubelet "$K8S_BIN/kubelet" --config="$KUBELET_DIR/config.yaml" \
    --kubeconfig="$PKI_DIR/kubelet-client.kubeconfig" --hostname-override="$NODE_NAME" \
    --node-ip="$NODE_IP" --root-dir="$KUBELET_DIR/root" --v=1
  wait_for 60 "node $NODE_NAME registered" kubectl get node "$NODE_NAME" || {
    assert_alive kubelet
    die "the kubelet did not register the node within 60 s; see $LOG_DIR/kubelet.log"
  }
  # cluster:down cordons the node to drain it; a new start takes pods again.
  kubectl uncordon "$NODE_NAME" >/dev/null
  kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=120s >/dev/null ||
    die "node $NODE_NAME not Ready within 120 s; see $LOG_DIR/kubelet.log"
  say "node $NODE_NAME: Ready"
}

kube_proxy_up() {
  write_config "$KUBELET_DIR/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: { kubeconfig: $PKI_DIR/kube-proxy.kubeconfig }
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [primary]
# 0: leave the machine's conntrack table size and timeouts as they are.
conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
YAML
  start_daemon kube-proxy "$K8S_BIN/kube-proxy" --config="$KUBELET_DIR/kube-proxy.yaml" --v=1
  wait_for 60 kube-proxy curl -sf http://127.0.0.1:10256/healthz || {
    assert_alive kube-proxy
    die "kube-proxy not healthy within 60 s; see $LOG_DIR/kube-proxy.log"
  }
}

# Drains the node the way a node shutdown does: no new pods land on it, every pod gets its
# SIGTERM and grace period (workers leave their consumer group, Redis writes its AOF), and the
# kubelet tears down each sandbox and its network. What is left after that is forced.
node_down() {
  if daemon_alive kubelet && daemon_alive kube-apiserver; then
    kubectl cordon "$NODE_NAME" >/dev/null 2>&1 || true
    kubectl delete pods --all --all-namespaces --timeout=90s >/dev/null 2>&1 ||
      say "some pods did not stop within 90 s: stopping their containers"
  fi
  stop_daemon kube-proxy
  stop_daemon kubelet
  if daemon_alive containerd; then
    local task
    for task in $(ctr tasks ls -q 2>/dev/null); do ctr tasks kill -s KILL "$task" >/dev/null 2>&1 || true; done
    sleep 1
    for task in $(ctr tasks ls -q 2>/dev/null); do ctr tasks delete -f "$task" >/dev/null 2>&1 || true; done
  fi
  stop_daemon containerd
  # Pod volumes (tmpfs for Secrets and tokens) and network namespaces of forced sandboxes.
  local mount
  for mount in $(awk -v a="$KUBELET_DIR/" -v b="$CONTAINERD_DIR/" 'index($2, a) == 1 || index($2, b) == 1 {print $2}' /proc/mounts | sort -r); do
    umount -l "$mount" || true
  done
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '/^cni-/ {print $1}'); do
    ip netns pids "$ns" 2>/dev/null | grep -q . || ip netns del "$ns" 2>/dev/null || true
  done
  [ -x "$K8S_BIN/kube-proxy" ] && "$K8S_BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
  # What the kubelet itself adds to iptables (kube-proxy's cleanup leaves it).
  local tool table chain
  for tool in iptables ip6tables; do
    for table in filter nat mangle; do
      for chain in INPUT OUTPUT; do
        while "$tool" -w -t "$table" -D "$chain" -j KUBE-FIREWALL 2>/dev/null; do :; done
      done
      for chain in KUBE-FIREWALL KUBE-KUBELET-CANARY KUBE-IPTABLES-HINT; do
        "$tool" -w -t "$table" -F "$chain" 2>/dev/null && "$tool" -w -t "$table" -X "$chain" 2>/dev/null
      done
    done
  done
  local cgroup
  for cgroup in /sys/fs/cgroup/*/kubepods; do
    [ -d "$cgroup" ] && find "$cgroup" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  true
}

node_status() {
  local name state=0
  for name in containerd kubelet kube-proxy; do
    if daemon_alive "$name"; then echo "$name: running"; else
      echo "$name: down"
      state=1
    fi
  done
  return $state
}
