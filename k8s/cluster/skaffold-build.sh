#!/usr/bin/env bash
# skaffold's build step for the local cluster (skaffold.yaml, profile `local`): builds $IMAGE from
# the Dockerfile named, with podman as `npm run images:build` does, and imports it into the node's
# containerd. Nothing is pushed: the node runs what is imported (imagePullPolicy Never).
#   skaffold sets IMAGE (repository:tag to build) and BUILD_CONTEXT (the repository root).
set -euo pipefail
dockerfile=$1
cd "${BUILD_CONTEXT:?skaffold sets BUILD_CONTEXT}"
bash scripts/images/base-image.sh
bash scripts/images/podman.sh build --isolation chroot --network host --pull=never \
  -f "$dockerfile" -t "${IMAGE:?skaffold sets IMAGE}" .
bash k8s/cluster/cluster.sh import "$IMAGE"
