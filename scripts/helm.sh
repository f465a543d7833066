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

command -v go >/dev/null || die "helm is missing and so is go: install Go (https://go.dev/dl/) or helm $HELM_VERSION"
[ -x "$HELM_BIN/helm" ] || bash "$here/../k8s/cluster/build.sh" helm >&2
"$HELM_BIN/helm" version --short 2>/dev/null | grep -q "^v$HELM_VERSION" || die "$HELM_BIN/helm does not report v$HELM_VERSION"
echo "$HELM_BIN/helm"
