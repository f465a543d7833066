#!/usr/bin/env bash
# `npm test`: installs what is missing, builds, lints, brings up the real stack, runs every test.
# Extra arguments go to jest (npm test -- tests/unit). A stack this script started, it stops.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/common.sh
source scripts/lib/node-deps.sh
source scripts/lib/browser.sh

ensure_node_deps
npm run --silent lint
# The console's tests (tests/console) drive a real chromium.
browser_up

if ! bash scripts/stack.sh status >/dev/null; then
  trap 'bash scripts/stack.sh down' EXIT
fi
bash scripts/stack.sh up
status=0
results=()
run_jest() { # <name> <jest args...>: one jest run, its results kept for the closing line
  local out=$STACK_DIR/jest-results-$1.json
  shift
  results+=("$out")
  npx jest --json --outputFile="$out" "$@" || status=$?
}
if [ $# -gt 0 ]; then
  run_jest selected "$@"
else
  # The benchmark smoke run and the chaos suite load both cores on purpose: each runs alone, after
  # everything else, so their load cannot push other suites' time-bounded answers (a 503 once
  # Kafka takes longer than PUBLISH_TIMEOUT_MS) over their bound, nor each other's.
  run_jest main --testPathIgnorePatterns /tests/chaos/ /tests/bench/ /tests/k8s/
  run_jest bench tests/bench
  run_jest chaos tests/chaos
  # Last, alone too: the chart on the local Kubernetes cluster (k8s/cluster), which it starts.
  k8s_results=$STACK_DIR/jest-results-k8s.json
  results+=("$k8s_results")
  bash scripts/test-k8s.sh --json --outputFile="$k8s_results" || status=$?
fi
# One plain closing line any CI can read, whatever jest printed above it.
node -e 'const rs = process.argv.slice(1).filter((f) => require("fs").existsSync(f)).map((f) => require(f));
  const sum = (k) => rs.reduce((n, r) => n + r[k], 0);
  console.log(`tests: ${sum("numPassedTests")} passed, ${sum("numFailedTests")} failed, ${sum("numPendingTests") + sum("numTodoTests")} skipped`);' \
  "${results[@]}" || true
exit "$status"
