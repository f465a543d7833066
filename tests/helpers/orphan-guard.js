/* global clearInterval, process, setInterval */
// Preloaded (`node --require`) into the processes tests, chaos runs and benches start.
// A test run killed before it could stop them (SIGKILL, a timeout, a closed pipe) would leave
// them running, still in Kafka's consumer groups and holding ports, under the next runs. Once
// the process that started this one is gone (this one has a new parent), stop as Kubernetes
// would stop a pod: one SIGTERM (a second one makes the services exit at once), so the service
// shuts down as it does in production.
const CHECK_MS = 1000;
const starter = process.ppid;
const check = setInterval(() => {
  if (process.ppid === starter) return;
  clearInterval(check);
  // The pipes to the starter are closed now: a log line would fail with EPIPE and crash the
  // service midway through its shutdown, still in its consumer group. What it writes is lost.
  const ignore = () => undefined;
  process.stdout.on('error', ignore);
  process.stderr.on('error', ignore);
  process.kill(process.pid, 'SIGTERM');
}, CHECK_MS).unref();
