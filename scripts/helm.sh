#!/usr/bin/env bash
# Prints the path of a helm v3 binary on stdout, installing it first when there is none.
#   scripts/helm.sh            -> /path/to/helm
# An existing `helm` on PATH is used when it is v3; otherwise helm is built from source with
# `go install` (the Go module proxy is reachable where release tarballs may not be) into
# .stack/bin (Go's module and build caches fill as usual). The first build takes minutes on two
# cores; later calls return at once. HELM_VERSION overrides the pinned version; HELM_FORCE_BUILD=1
# builds even when a helm is on PATH.
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
source "$here/lib/common.sh"

# Pinned so `helm template` output (and so the chart tests) cannot change under us.
HELM_VERSION=${HELM_VERSION:-v3.20.2}
bin_dir=$STACK_DIR/bin
helm_bin=$bin_dir/helm

is_wanted() { [ -x "$1" ] && "$1" version --short 2>/dev/null | grep -q "^${HELM_VERSION}"; }
is_v3() { "$1" version --short 2>/dev/null | grep -q '^v3\.'; }

if is_wanted "$helm_bin"; then
  echo "$helm_bin"
  exit 0
fi
if [ -z "${HELM_FORCE_BUILD:-}" ] && path_helm=$(command -v helm) && is_v3 "$path_helm"; then
  echo "$path_helm"
  exit 0
fi

command -v go >/dev/null || die "helm is missing and so is go: install helm v3 (https://helm.sh/docs/intro/install/)"
mkdir -p "$bin_dir"
# Several test files may ask at once on a fresh machine: one builds, the others wait for it.
exec 9>"$bin_dir/.helm.lock"
flock 9
if ! is_wanted "$helm_bin"; then
  say "building helm $HELM_VERSION with go install (first run only, a few minutes)"
  started=$SECONDS
  # go install leaves helm's version variable at its "v3.x" default; set it as helm's Makefile does.
  GOBIN=$bin_dir GOFLAGS=-buildvcs=false go install \
    -ldflags "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
  say "helm $HELM_VERSION built in $((SECONDS - started)) s: $helm_bin"
fi
is_wanted "$helm_bin" || die "$helm_bin does not report $HELM_VERSION"
echo "$helm_bin"
