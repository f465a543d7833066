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
results=$STACK_DIR/jest-results.json
status=0
npx jest --json --outputFile="$results" "$@" || status=$?
# One plain closing line any CI can read, whatever jest printed above it.
node -e 'const r = require(process.argv[1]);
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);' \
  "$results" || true
exit "$status"
