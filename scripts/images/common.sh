# Shared settings of the image scripts. Sourced, never run.
# shellcheck source=../lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

IMAGES_DIR=$STACK_DIR/images
# A private containers.conf: podman reads it instead of /etc, so nothing on the host changes.
export CONTAINERS_CONF=$STACK_DIR/containers/containers.conf

# The base image comes from the Dockerfiles (one value, one source): the stand-in must carry
# exactly the name:tag they ask for, or `--pull=never` finds nothing.
base_image() {
  local file image first=""
  for file in Dockerfile.api Dockerfile.worker; do
    image=$(sed -n 's/^ARG NODE_IMAGE=//p' "$ROOT_DIR/$file")
    [ -n "$image" ] || die "$file has no 'ARG NODE_IMAGE=' line"
    [ -z "$first" ] || [ "$image" = "$first" ] || die "the Dockerfiles disagree on the base image ($first, $image)"
    first=$image
  done
  printf '%s\n' "$image"
}

# The host's podman setup: runc (crun fails on this cgroup setup) and rlimits no higher than the
# host's, because without CAP_SYS_RESOURCE a container cannot raise them.
write_containers_conf() {
  mkdir -p "$(dirname "$CONTAINERS_CONF")"
  cat >"$CONTAINERS_CONF" <<'CONF'
# Written by scripts/images/common.sh; podman finds it through CONTAINERS_CONF.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"
CONF
}

ensure_podman() {
  local missing=()
  command -v podman >/dev/null || missing+=(podman)
  command -v runc >/dev/null || missing+=(runc)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
  write_containers_conf
}

# Prints the path of a Debian bookworm minbase rootfs tarball, made with debootstrap on first use
# and cached in $IMAGES_DIR: the root of every image built here without a registry.
minbase_rootfs() {
  local rootfs_tar=$IMAGES_DIR/bookworm-minbase.tar.gz dir mirror
  mkdir -p "$IMAGES_DIR"
  if [ ! -f "$rootfs_tar" ]; then
    say "debootstrap bookworm (first run only, a few minutes)"
    dir=$(mktemp -d "$IMAGES_DIR/rootfs.XXXXXX")
    # The mirror the host's apt uses, since that one is known to be reachable.
    mirror=$(sed -n 's/^URIs: *\([^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
    debootstrap --variant=minbase bookworm "$dir" "${mirror:-http://deb.debian.org/debian}" >"$IMAGES_DIR/debootstrap.log" 2>&1 || {
      rm -rf "$dir"
      die "debootstrap failed, see $IMAGES_DIR/debootstrap.log"
    }
    # Like the official slim images: no package lists or caches in the layer.
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb
    # Written to a temporary name first: an interrupted run must not leave a half tarball behind.
    tar -C "$dir" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -czf "$rootfs_tar.tmp" .
    mv "$rootfs_tar.tmp" "$rootfs_tar"
    rm -rf "$dir"
  fi
  printf '%s\n' "$rootfs_tar"
}
