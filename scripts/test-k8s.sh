#!/usr/bin/env bash
# `npm run test:k8s`, also the last phase of `npm test`: the chart on a real local cluster
# (tests/k8s). Starts the cluster of `npm run cluster:up` unless it already runs, and then stops it
# at the end; a cluster that was running is left running. Extra arguments go to jest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/common.sh
source scripts/lib/node-deps.sh

ensure_node_deps
cluster=k8s/cluster/cluster.sh
if ! bash "$cluster" status >/dev/null 2>&1; then
  trap 'bash "$cluster" down' EXIT
fi
started=$SECONDS
bash "$cluster" up
say "cluster ready in $((SECONDS - started)) s; running tests/k8s"
npx jest -c jest.k8s.config.js "$@"
