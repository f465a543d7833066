#!/usr/bin/env bash
# `npm run images:build`: builds spillway-api:dev and spillway-worker:dev from the Dockerfiles as
# they are, with podman, and prints their sizes. On a machine with no registry the base image is
# built locally first (base-image.sh); a later run reuses it and podman's layer cache.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT_DIR"

bash scripts/images/base-image.sh
# The base image may come from podman's own store (another checkout built it): logs still need a home.
mkdir -p "$IMAGES_DIR"

for service in api worker; do
  say "building spillway-$service:dev"
  started=$SECONDS
  # chroot isolation and the host network: what works without a container engine's daemon or
  # network setup here. --pull=never: the base image is the local one, never a registry's.
  podman build --isolation chroot --network host --pull=never \
    -f "Dockerfile.$service" -t "spillway-$service:dev" . >"$IMAGES_DIR/build-$service.log" 2>&1 || {
    # The end of the log is what a CI run shows; the whole of it stays on the machine.
    tail -n 40 "$IMAGES_DIR/build-$service.log" >&2
    die "building spillway-$service:dev failed, see $IMAGES_DIR/build-$service.log"
  }
  say "spillway-$service:dev built in $((SECONDS - started)) s"
done

podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' --filter reference='spillway-*:dev' |
  sed 's/^localhost\///' | while read -r name size; do say "$name: $size"; done
