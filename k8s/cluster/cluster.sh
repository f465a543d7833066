#!/usr/bin/env bash
# A real single-node Kubernetes on this machine, without Docker and without pulling an image:
# every binary built from the Go module proxy (build.sh), every image built here with podman.
#
#   k8s/cluster/cluster.sh up       build what is missing, start the cluster; returns when it is
#                                   ready (npm run cluster:up)
#   k8s/cluster/cluster.sh down     drain the node, stop everything, undo the network setup;
#                                   state stays in .stack/cluster (npm run cluster:down)
#   k8s/cluster/cluster.sh down --purge   the same, and delete that state
#   k8s/cluster/cluster.sh status   what runs; exits 1 unless all of it does (npm run cluster:status)
#   k8s/cluster/cluster.sh images   rebuild the Spillway images and import them (npm run cluster:images)
#   k8s/cluster/cluster.sh import IMAGE...   copy images podman holds (your own builds) into the node
#   k8s/cluster/cluster.sh env      the lines that point kubectl, helm and the CLI at the cluster
#                                   (--json: the same as one JSON object)
#
# What runs: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd + runc,
# the kubelet, kube-proxy (iptables), CoreDNS (a pod), local-path-provisioner, the KEDA operator
# and metrics adapter, and a Kafka broker for the pods: all on 127.0.0.1 or the node's bridge
# (lib/network.sh). Needs root: a kubelet and a bridge are not things a user account may run.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib/common.sh"
source "$here/lib/pki.sh"
source "$here/lib/network.sh"
source "$here/lib/control-plane.sh"
source "$here/lib/node.sh"
source "$here/lib/images.sh"
source "$here/lib/addons.sh"

usage() {
  sed -n '5,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

cluster_up() {
  local started=$SECONDS
  [ "$(id -u)" = 0 ] || die "the cluster needs root (it runs a kubelet and sets up a bridge)"
  bash "$here/build.sh"
  pki_up
  network_up
  control_plane_up
  containerd_up
  system_images_up
  kubelet_up
  kube_proxy_up
  crds_up
  coredns_up
  storage_up
  keda_up
  cluster_kafka up
  app_images_up
  say "up in $((SECONDS - started)) s; to use it:"
  cluster_env >&2
}

cluster_down() {
  stop_daemon podman-api # k8s/cluster/skaffold.sh's
  node_down
  addons_down
  cluster_kafka down
  control_plane_down
  network_down
  if [ "${1:-}" = --purge ]; then
    rm -rf "$CLUSTER_DIR"
    say "state deleted ($CLUSTER_DIR)"
  fi
}

cluster_status() {
  local state=0
  network_status || state=1
  control_plane_status || state=1
  node_status || state=1
  local name
  for name in local-path-provisioner keda-operator keda-adapter; do
    if daemon_alive "$name"; then echo "$name: running"; else
      echo "$name: down"
      state=1
    fi
  done
  cluster_kafka status | sed 's/^kafka/cluster kafka/' || state=1
  if [ $state = 0 ]; then
    kubectl get nodes -o wide
  fi
  return $state
}

cluster_env() {
  if [ "${1:-}" = --json ]; then
    # For the tests: the same facts, without parsing shell.
    printf '{"kubeconfig":"%s","kubectl":"%s","helm":"%s","skaffold":"%s","kafka":"%s","nodeIp":"%s"}\n' \
      "$KUBECONFIG_FILE" "$K8S_BIN/kubectl" "$HELM_BIN/helm" "$SKAFFOLD_BIN/skaffold" "$CLUSTER_KAFKA" "$NODE_IP"
    return 0
  fi
  cat <<ENV
export KUBECONFIG=$KUBECONFIG_FILE
export PATH=$K8S_BIN:$HELM_BIN:\$PATH   # kubectl $K8S_VERSION, helm $HELM_VERSION
# Kafka for the chart (kafka.create=false): $CLUSTER_KAFKA; values: k8s/cluster/values.yaml
ENV
}

case "${1:-}" in
  up) cluster_up ;;
  down) cluster_down "${2:-}" ;;
  status) cluster_status ;;
  images)
    daemon_alive containerd || die "the cluster is not running (npm run cluster:up)"
    app_images_up
    ;;
  import)
    daemon_alive containerd || die "the cluster is not running (npm run cluster:up)"
    shift
    [ $# -gt 0 ] || usage
    images_import "$@"
    ;;
  env) cluster_env "${2:-}" ;;
  *) usage ;;
esac
