/* global clearInterval, process, setInterval */
// Preloaded (`node --require`) into the processes tests, chaos runs and benches start.
// A test run killed before it could stop them (SIGKILL, a timeout, a closed pipe) would leave
// them running, still in Kafka's consumer groups and holding ports, under the next runs. Once
// the process that started this one is gone, stop as Kubernetes would stop a pod: one SIGTERM
// (a second one makes the services exit at once), so the service shuts down as in production.
// ORPHAN_GUARD_CHECK_MS: tests/e2e/orphans.test.ts sets it out of reach to test the pipe alone.
const CHECK_MS = Number(process.env.ORPHAN_GUARD_CHECK_MS) || 1000;
const starter = process.ppid;
let stopping = false;

function stop() {
  if (stopping) return;
  stopping = true;
  clearInterval(check);
  process.kill(process.pid, 'SIGTERM');
}

// Gone: this process has a new parent.
const check = setInterval(() => {
  if (process.ppid !== starter) stop();
}, CHECK_MS).unref();

// Or the pipes to the starter broke: a log line written before the check above noticed would
// fail with EPIPE and, unhandled, crash the service, still in its consumer groups. What it
// writes from then on is lost; nobody reads it.
function onPipeError(err) {
  if (err.code !== 'EPIPE') throw err;
  stop();
}
process.stdout.on('error', onPipeError);
process.stderr.on('error', onPipeError);
