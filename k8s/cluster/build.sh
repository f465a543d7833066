#!/usr/bin/env bash
# Builds every binary the local cluster runs, from the Go module proxy, into the version-keyed
# cache (lib/common.sh: $SPILLWAY_CACHE/bin/<component>-v<version>/). A component whose binaries
# are there is skipped, so a warm machine returns at once; a cold one takes about 20 minutes on two
# cores (Kubernetes alone about 10) and leaves ~11 GB in Go's own caches.
#   k8s/cluster/build.sh               # everything cluster:up needs
#   k8s/cluster/build.sh helm skaffold # just those
# Each build runs in a wrapper module under k8s/cluster/modules/<component>/ whose go.mod and go.sum
# are committed: the dependency graph is pinned, not re-resolved on each machine. Deleting a
# wrapper's go.mod regenerates it (after a version bump) from the upstream module: its replace
# block is kept, except local paths, which Kubernetes uses for its staging modules; those point at
# the published k8s.io/<name> v0.<minor>.<patch> instead.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
command -v go >/dev/null || die "Go is needed to build the cluster's binaries (https://go.dev/dl/)"

modules=$CLUSTER_SCRIPTS/modules

# wrapper_module <name> <module> <version> <package>...: writes modules/<name>/go.mod{,.sum}
# requiring <module>@<version> with what its packages need, unless they exist. Upstream replace
# lines to local paths are dropped (sibling modules of a monorepo, resolved by version instead),
# except Kubernetes' staging modules, which have no other version to resolve to.
wrapper_module() {
  local name=$1 module=$2 version=$3 dir=$modules/$1 staging_version=""
  shift 3
  [ "$module" = k8s.io/kubernetes ] && staging_version="v0.${version#v1.}"
  [ -f "$dir/go.sum" ] && return 0
  mkdir -p "$dir"
  say "$name: resolving $module@$version into modules/$name/go.mod (commit it)"
  local upstream
  upstream=$(cd "$dir" && GOFLAGS=-mod=mod go mod download -json "$module@$version" |
    sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
  {
    printf 'module spillway.local/build/%s\n\ngo 1.26.0\n\nrequire %s %s\n' "$name" "$module" "$version"
    awk -v sv="$staging_version" '
      /^replace \($/ { inblock = 1; print; next }
      inblock && /^\)$/ { inblock = 0; print; next }
      inblock && /=> \.\.?\// { if (sv != "") print "\t" $1 " => " $1 " " sv; next }
      inblock { print; next }
      /^replace .*=> \.\.?\// { if (sv != "") print "replace " $2 " => " $2 " " sv; next }
      /^replace / { print }' "$upstream"
  } >"$dir/go.mod"
  local pkgs=()
  for p; do pkgs+=("$p@$version"); done
  (cd "$dir" && go get "${pkgs[@]}")
}

# build <name> <bin dir> <ldflags> <package>...: one go build into <bin dir>, timed.
build() {
  local name=$1 out=$2 ldflags=$3 started=$SECONDS
  shift 3
  say "$name: building (cold: minutes; the Go build cache makes later builds seconds)"
  mkdir -p "$out.partial"
  (cd "$modules/$name" && nice -n 10 go build -buildvcs=false -trimpath -ldflags="-s -w $ldflags" -o "$out.partial/" "$@")
  rm -rf "$out" && mv "$out.partial" "$out"
  say "$name: built in $((SECONDS - started)) s into $out"
}

have() { local d=$1; shift; for b; do [ -x "$d/$b" ] || return 1; done; }

build_kubernetes() {
  local cmds=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
  have "$K8S_BIN" "${cmds[@]}" && return 0
  local pkgs=("${cmds[@]/#/k8s.io/kubernetes/cmd/}")
  wrapper_module kubernetes k8s.io/kubernetes "v$K8S_VERSION" "${pkgs[@]}"
  # Without these the binaries report v0.0.0-master, and the API server's version gates misfire.
  local v=k8s.io/component-base/version minor=${K8S_VERSION#*.}
  build kubernetes "$K8S_BIN" "-X $v.gitVersion=v$K8S_VERSION -X $v.gitMajor=${K8S_VERSION%%.*} -X $v.gitMinor=${minor%%.*} -X $v.gitTreeState=clean" "${pkgs[@]}"
}

build_etcd() {
  have "$ETCD_BIN" etcd && return 0
  wrapper_module etcd go.etcd.io/etcd/server/v3 "v$ETCD_VERSION" go.etcd.io/etcd/server/v3
  build etcd "$ETCD_BIN" "" go.etcd.io/etcd/server/v3
  mv "$ETCD_BIN/server" "$ETCD_BIN/etcd"
}

build_helm() {
  have "$HELM_BIN" helm && return 0
  wrapper_module helm helm.sh/helm/v4 "v$HELM_VERSION" helm.sh/helm/v4/cmd/helm
  build helm "$HELM_BIN" "-X helm.sh/helm/v4/internal/version.version=v$HELM_VERSION" helm.sh/helm/v4/cmd/helm
}

build_keda() {
  have "$KEDA_BIN" keda-operator keda-adapter && return 0
  local pkgs=(github.com/kedacore/keda/v2/cmd/operator github.com/kedacore/keda/v2/cmd/adapter)
  wrapper_module keda github.com/kedacore/keda/v2 "v$KEDA_VERSION" "${pkgs[@]}"
  build keda "$KEDA_BIN" "-X github.com/kedacore/keda/v2/version.Version=$KEDA_VERSION" "${pkgs[@]}"
  mv "$KEDA_BIN/operator" "$KEDA_BIN/keda-operator"
  mv "$KEDA_BIN/adapter" "$KEDA_BIN/keda-adapter"
}

build_coredns() {
  have "$COREDNS_BIN" coredns && return 0
  wrapper_module coredns github.com/coredns/coredns "v$COREDNS_VERSION" github.com/coredns/coredns
  # Static, so its image needs nothing but the binary.
  CGO_ENABLED=0 build coredns "$COREDNS_BIN" "" github.com/coredns/coredns
}

build_local_path() {
  have "$LOCAL_PATH_BIN" local-path-provisioner && return 0
  wrapper_module local-path github.com/rancher/local-path-provisioner "v$LOCAL_PATH_VERSION" github.com/rancher/local-path-provisioner
  build local-path "$LOCAL_PATH_BIN" "" github.com/rancher/local-path-provisioner
}

build_skaffold() {
  have "$SKAFFOLD_BIN" skaffold && return 0
  wrapper_module skaffold github.com/GoogleContainerTools/skaffold/v2 "v$SKAFFOLD_VERSION" github.com/GoogleContainerTools/skaffold/v2/cmd/skaffold
  build skaffold "$SKAFFOLD_BIN" "-X github.com/GoogleContainerTools/skaffold/v2/pkg/skaffold/version.version=v$SKAFFOLD_VERSION" github.com/GoogleContainerTools/skaffold/v2/cmd/skaffold
}

components=("$@")
[ ${#components[@]} -gt 0 ] || components=(kubernetes etcd helm keda coredns local_path)
mkdir -p "$SPILLWAY_CACHE"
for c in "${components[@]}"; do
  declare -F "build_$c" >/dev/null || die "unknown component $c (kubernetes etcd helm keda coredns local_path skaffold)"
  # Two runs at once (cluster:up beside a test) must not build one thing twice; one that needs
  # something else does not wait.
  (
    exec 8>"$SPILLWAY_CACHE/.build-$c.lock"
    flock 8
    "build_$c"
  )
done
