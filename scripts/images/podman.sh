#!/usr/bin/env bash
# podman with this project's containers.conf (runc, rlimits within the host's), for the tests and
# for a person poking at the images: bash scripts/images/podman.sh ps -a
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
[ -f "$CONTAINERS_CONF" ] || write_containers_conf
exec podman "$@"
