#!/usr/bin/env bash
# skaffold's build step for the local cluster (skaffold.yaml, profile `local`, run through
# k8s/cluster/skaffold.sh): builds $IMAGE from the Dockerfile named, with podman as
# `npm run images:build` does, and imports it into the node's containerd. Nothing is pushed: the
# node runs what is imported (imagePullPolicy Never).
#   skaffold sets IMAGE (repository:tag to build) and BUILD_CONTEXT (the repository root).
set -euo pipefail
dockerfile=$1
cd "${BUILD_CONTEXT:?skaffold sets BUILD_CONTEXT}"
podman() { bash scripts/images/podman.sh "$@"; }
bash scripts/images/base-image.sh
podman build --isolation chroot --network host --pull=never -f "$dockerfile" -t "${IMAGE:?skaffold sets IMAGE}" .
# skaffold deploys a local build under a tag of its image id (<repository>:<id>, tagged through
# the Docker API podman serves), so that tag must be in the node too.
id=$(podman image inspect --format '{{.Id}}' "$IMAGE")
podman tag "$IMAGE" "${IMAGE%:*}:$id"
bash k8s/cluster/cluster.sh import "$IMAGE" "${IMAGE%:*}:$id"
