#!/usr/bin/env bash
# Prints the path of the project's helm on stdout, building it first when there is none.
#   scripts/helm.sh            -> /path/to/helm
# One helm for everything (chart tests, the local cluster, skaffold): the version pinned in
# k8s/cluster/lib/common.sh, built with `go install` from the Go module proxy into the
# version-keyed cache outside the clone (~/.cache/spillway), so every clone on the machine shares
# it. The first build takes a few minutes on two cores; later calls return at once.
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
source "$here/../k8s/cluster/lib/common.sh"

if [ ! -x "$HELM_BIN/helm" ]; then
  # A helm of exactly the pinned version on PATH will do; otherwise it is built, which needs the
  # Go its module asks for (Debian's golang package is older).
  on_path=$(command -v helm || true)
  if [ -n "$on_path" ] && "$on_path" version --short 2>/dev/null | grep -q "^v$HELM_VERSION"; then
    echo "$on_path"
    exit 0
  fi
  need_go=$(sed -n 's/^go //p' "$here/../k8s/cluster/modules/helm/go.mod")
  have_go=$(go env GOVERSION 2>/dev/null | sed 's/^go//' || true)
  if [ -z "$have_go" ] || [ "$(printf '%s\n%s\n' "$need_go" "$have_go" | sort -V | head -1)" != "$need_go" ]; then
    die "helm v$HELM_VERSION is needed (chart tests, the local cluster): put helm v$HELM_VERSION on PATH, or install Go $need_go or newer (https://go.dev/dl/; found: ${have_go:-no go}) to build it"
  fi
  bash "$here/../k8s/cluster/build.sh" helm >&2
fi
"$HELM_BIN/helm" version --short 2>/dev/null | grep -q "^v$HELM_VERSION" || die "$HELM_BIN/helm does not report v$HELM_VERSION"
echo "$HELM_BIN/helm"
