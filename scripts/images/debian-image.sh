#!/usr/bin/env bash
# Imports the cached Debian bookworm minbase rootfs (common.sh: minbase_rootfs) into podman as
# localhost/spillway-debian:bookworm, unless podman has it: the base of the local cluster's own
# images (Redis, the storage helper), where no registry's debian image can be pulled.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

image=localhost/spillway-debian:bookworm
ensure_podman
podman image exists "$image" && exit 0
rootfs_tar=$(minbase_rootfs)
gzip -dc "$rootfs_tar" | podman import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["bash"]' - "$image" >/dev/null
say "$image: imported"
