#!/usr/bin/env node
import { runCli } from './cli';

/** The `spillway` command (package.json "bin"); the only file of the CLI that reads process state. */
runCli(process.argv.slice(2), process.env, {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  interrupts: () => {
    const stop = new AbortController();
    // `once`: a second Ctrl-C finds no handler and ends the process at once.
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
    return stop.signal;
  },
}).then(
  // Exit at once: idle keep-alive sockets would otherwise hold the process for seconds.
  (code) => process.exit(code),
  () => process.exit(1),
);
