#!/usr/bin/env bash
# `npm test`: installs what is missing, builds, lints, brings up the real stack, runs every test.
# Extra arguments go to jest (npm test -- tests/unit). A stack this script started, it stops.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/common.sh
source scripts/lib/node-deps.sh

ensure_node_deps
npm run --silent lint

if ! bash scripts/stack.sh status >/dev/null; then
  trap 'bash scripts/stack.sh down' EXIT
fi
bash scripts/stack.sh up
npx jest "$@"
