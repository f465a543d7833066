#!/usr/bin/env bash
# skaffold against the local cluster of `npm run cluster:up`: `npm run skaffold -- dev` (or run,
# delete, ...). Builds skaffold from its Go module on first use (a few minutes), points it at the
# cluster (KUBECONFIG, whose context activates skaffold.yaml's `local` profile; the cluster's
# kubectl and helm first on PATH), and gives it the Docker API it needs to tag and look up local
# images: podman's, served on a socket of the cluster's. Images are built by
# k8s/cluster/skaffold-build.sh and imported into the node; skaffold's artifact cache is off, as
# an image found in podman is not necessarily in the node (podman's layer cache keeps rebuilds
# quick).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib/common.sh"

daemon_alive kube-apiserver || die "the cluster is not running (npm run cluster:up)"
bash "$here/build.sh" skaffold
export CONTAINERS_CONF=$STACK_DIR/containers/containers.conf
socket=$RUN_DIR/podman.sock
if ! daemon_alive podman-api; then
  rm -f "$socket"
  start_daemon podman-api podman system service --time=0 "unix://$socket"
  wait_for 30 "podman's Docker API" test -S "$socket" || die "podman system service did not start; see $LOG_DIR/podman-api.log"
fi
export DOCKER_HOST=unix://$socket KUBECONFIG=$KUBECONFIG_FILE PATH=$K8S_BIN:$HELM_BIN:$PATH
export SKAFFOLD_CACHE_ARTIFACTS=false
# skaffold's default file watcher (notify) never saw a file created under services/ here (90 s,
# skaffold 2.19); polling each second walks the few hundred files the images copy, and does.
export SKAFFOLD_TRIGGER=polling
# Its pruning removes every tag of the images it built from podman, localhost/spillway-*:dev
# included when a build is identical to them: what cluster:images and the tests build upon.
export SKAFFOLD_NO_PRUNE=true
# Its own global configuration: skaffold otherwise checks for updates, probes an outside address
# to decide whether to send usage metrics, and asks for surveys. None of that leaves this machine.
export SKAFFOLD_CONFIG=$CLUSTER_DIR/skaffold-config.yaml SKAFFOLD_UPDATE_CHECK=false
write_config "$SKAFFOLD_CONFIG" <<'YAML'
global:
  collect-metrics: false
  update-check: false
  survey:
    disable-prompt: true
kubeContexts: []
YAML
cd "$ROOT_DIR"
exec "$SKAFFOLD_BIN/skaffold" "$@"
