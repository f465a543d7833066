# Images for the cluster, built here with podman and imported into containerd: nothing is ever
# pulled. Sourced (after node.sh, whose containerd must be running).
#
#   localhost/spillway-pause:1               the pod sandbox (images/pause, a static Go program)
#   localhost/spillway-coredns:<version>     CoreDNS as build.sh built it
#   localhost/spillway-debian:bookworm       Debian minbase: the storage provisioner's helper pods
#   localhost/spillway-redis:7               Debian's redis-server, for the chart's StatefulSet
#   localhost/spillway-api:dev, -worker:dev  Dockerfile.api and Dockerfile.worker as they are
#
# `localhost/` is what podman names a local image, and what the CRI keeps as is (a bare name
# would become docker.io/library/<name>), so pods name images exactly as podman lists them.

IMAGES_BUILD_DIR=$CLUSTER_DIR/images
COREDNS_IMAGE=localhost/spillway-coredns:$COREDNS_VERSION
DEBIAN_IMAGE=localhost/spillway-debian:bookworm
REDIS_IMAGE=localhost/spillway-redis:7
APP_IMAGES=(localhost/spillway-api:dev localhost/spillway-worker:dev)

podman() { bash "$ROOT_DIR/scripts/images/podman.sh" "$@"; }

# podman_build <image> <context dir> [build args...]: a build as the project's images are built.
podman_build() {
  local image=$1 context=$2 log
  shift 2
  log=$IMAGES_BUILD_DIR/build-${image//[\/:]/_}.log
  podman build --isolation chroot --network host --pull=never -t "$image" "$@" "$context" >"$log" 2>&1 || {
    tail -n 30 "$log" >&2
    die "building $image failed; see $log"
  }
}

system_images_build() {
  mkdir -p "$IMAGES_BUILD_DIR"
  local src=$CLUSTER_SCRIPTS/images
  if ! podman image exists "$PAUSE_IMAGE"; then
    local ctx=$IMAGES_BUILD_DIR/pause
    mkdir -p "$ctx"
    (cd "$src/pause" && CGO_ENABLED=0 go build -buildvcs=false -trimpath -ldflags='-s -w' -o "$ctx/pause" .)
    cp "$src/pause/Containerfile" "$ctx/"
    podman_build "$PAUSE_IMAGE" "$ctx"
  fi
  if ! podman image exists "$COREDNS_IMAGE"; then
    local ctx=$IMAGES_BUILD_DIR/coredns
    mkdir -p "$ctx"
    cp "$COREDNS_BIN/coredns" "$src/coredns/Containerfile" "$ctx/"
    podman_build "$COREDNS_IMAGE" "$ctx"
  fi
  bash "$ROOT_DIR/scripts/images/debian-image.sh"
  podman image exists "$REDIS_IMAGE" || podman_build "$REDIS_IMAGE" "$src/redis" --build-arg BASE="$DEBIAN_IMAGE"
}

app_images_build() {
  bash "$ROOT_DIR/scripts/images/build.sh"
}

# images_import <image>...: copies each into containerd unless containerd holds that exact build
# (same image id), so a rebuilt :dev tag replaces the old one and an unchanged one costs nothing.
images_import() {
  mkdir -p "$IMAGES_BUILD_DIR"
  local image id stamp archive
  for image; do
    id=$(podman image inspect --format '{{.Id}}' "$image")
    stamp=$IMAGES_BUILD_DIR/imported-${image//[\/:]/_}
    if [ "$(cat "$stamp" 2>/dev/null)" = "$id" ] && ctr images ls -q | grep -qxF "$image"; then
      continue
    fi
    archive=$IMAGES_BUILD_DIR/archive.tar
    podman save --quiet --format docker-archive -o "$archive" "$image" >/dev/null 2>&1 || die "saving $image from podman failed"
    ctr images import "$archive" >/dev/null || die "importing $image into containerd failed"
    rm -f "$archive"
    echo "$id" >"$stamp"
    say "$image: in containerd"
  done
}

system_images_up() {
  system_images_build
  images_import "$PAUSE_IMAGE" "$COREDNS_IMAGE" "$DEBIAN_IMAGE" "$REDIS_IMAGE"
}

app_images_up() {
  app_images_build
  images_import "${APP_IMAGES[@]}"
}
