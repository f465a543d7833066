#!/usr/bin/env node
import { runCli } from './cli';

/** The `spillway` command (package.json "bin"); the only file of the CLI that reads process state. */
runCli(process.argv.slice(2), process.env, {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
}).then(
  // Exit at once: idle keep-alive sockets would otherwise hold the process for seconds.
  (code) => process.exit(code),
  () => process.exit(1),
);
