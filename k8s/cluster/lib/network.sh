# The node's network: one Linux bridge for every pod, and nothing that leaves the machine. Sourced.
#
#   pods 10.244.0.0/24 ──veth── bridge spillway0 (10.244.0.1: the node, its API server, kubelet
#                                and the cluster's Kafka)
#   Services 10.96.0.0/16: virtual, kube-proxy's iptables rules turn them into pod addresses
#
# The bridge CNI plugin attaches pods to the bridge this file makes (with host-local addresses and
# hairpin mode, so a pod reaches itself through its own Service). Pod-to-Service traffic is routed
# through the node, so IP forwarding is on while the cluster runs; a chain at the top of FORWARD
# lets traffic in and out of the bridge only between pods, so no pod packet is ever forwarded to
# another interface, and no outside packet to a pod. Pods get no NAT to the outside either.

CNI_CONF_DIR=$CLUSTER_DIR/cni/net.d
CNI_BIN_DIR=/usr/lib/cni # Debian's containernetworking-plugins
ISOLATION_CHAIN=SPILLWAY-ISOLATION
SYSCTLS=(net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables)

network_up() {
  ensure_packages ip=iproute2 iptables=iptables conntrack=conntrack
  [ -x "$CNI_BIN_DIR/bridge" ] || ensure_packages /usr/lib/cni/bridge=containernetworking-plugins
  mkdir -p "$RUN_DIR" "$CNI_CONF_DIR"
  if ! ip link show "$CLUSTER_BRIDGE" >/dev/null 2>&1; then
    ip link add "$CLUSTER_BRIDGE" type bridge
    ip addr add "$NODE_IP/${POD_CIDR#*/}" dev "$CLUSTER_BRIDGE"
  fi
  ip link set "$CLUSTER_BRIDGE" up
  # The values found are put back by network_down.
  local name
  [ -f "$RUN_DIR/sysctls.saved" ] || for name in "${SYSCTLS[@]}"; do
    echo "$name=$(sysctl -n "$name")"
  done >"$RUN_DIR/sysctls.saved"
  for name in "${SYSCTLS[@]}"; do sysctl -qw "$name=1"; done
  network_isolate
  write_config "$CNI_CONF_DIR/10-spillway.conflist" <<CNI
{
  "cniVersion": "1.0.0",
  "name": "spillway",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$CLUSTER_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$POD_CIDR", "gateway": "$NODE_IP" }]],
        "routes": [{ "dst": "0.0.0.0/0" }],
        "dataDir": "$CLUSTER_DIR/cni/addresses"
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
CNI
}

# Idempotent: the chain is flushed and refilled, and jumped to once, first in FORWARD.
network_isolate() {
  iptables -w -N "$ISOLATION_CHAIN" 2>/dev/null || iptables -w -F "$ISOLATION_CHAIN"
  iptables -w -A "$ISOLATION_CHAIN" -i "$CLUSTER_BRIDGE" -o "$CLUSTER_BRIDGE" -j RETURN
  iptables -w -A "$ISOLATION_CHAIN" -i "$CLUSTER_BRIDGE" -j REJECT --reject-with icmp-net-prohibited
  iptables -w -A "$ISOLATION_CHAIN" -o "$CLUSTER_BRIDGE" -j DROP
  iptables -w -C FORWARD -j "$ISOLATION_CHAIN" 2>/dev/null || iptables -w -I FORWARD 1 -j "$ISOLATION_CHAIN"
}

network_down() {
  if iptables -w -C FORWARD -j "$ISOLATION_CHAIN" 2>/dev/null; then
    iptables -w -D FORWARD -j "$ISOLATION_CHAIN"
    iptables -w -F "$ISOLATION_CHAIN"
    iptables -w -X "$ISOLATION_CHAIN"
  fi
  ip link show "$CLUSTER_BRIDGE" >/dev/null 2>&1 && ip link del "$CLUSTER_BRIDGE"
  if [ -f "$RUN_DIR/sysctls.saved" ]; then
    while IFS= read -r setting; do sysctl -qw "$setting" || true; done <"$RUN_DIR/sysctls.saved"
    rm -f "$RUN_DIR/sysctls.saved"
  fi
  # Addresses handed out to pods that are gone with the cluster.
  rm -rf "$CLUSTER_DIR/cni/addresses"
}

network_status() {
  if ip link show "$CLUSTER_BRIDGE" >/dev/null 2>&1; then
    echo "network: bridge $CLUSTER_BRIDGE $NODE_IP, pods $POD_CIDR, services $SERVICE_CIDR"
  else
    echo "network: down"
    return 1
  fi
}
