import { SPILLWAY_VERSION } from '../shared/version';
import { parse, takeWords } from './args';
import { ApiClient } from './client';
import type { Command } from './command';
import {
  deadLettersDiscard,
  deadLettersList,
  deadLettersRebuild,
  deadLettersReplay,
} from './commands/dead-letters';
import { fleet } from './commands/fleet';
import { batchesCancel, batchesCreate, batchesSeal, batchesShow } from './commands/batches';
import {
  schedulesAdd,
  schedulesList,
  schedulesPause,
  schedulesResume,
  schedulesRm,
} from './commands/schedules';
import { queuePause, queueResume, queueStatus } from './commands/queue';
import { stats } from './commands/stats';
import { submit } from './commands/submit';
import { cancel, get, wait } from './commands/tasks';
import { tasksList } from './commands/tasks-list';
import { loadCliConfig } from './config';
import { CliError, EXIT, usageError, type ExitCode } from './exit-codes';
import { Output, type Io } from './output';

const COMMANDS: readonly Command[] = [
  submit,
  get,
  wait,
  cancel,
  tasksList,
  stats,
  deadLettersList,
  deadLettersReplay,
  deadLettersDiscard,
  deadLettersRebuild,
  fleet,
  batchesCreate,
  batchesShow,
  batchesSeal,
  batchesCancel,
  schedulesList,
  schedulesAdd,
  schedulesPause,
  schedulesResume,
  schedulesRm,
  queueStatus,
  queuePause,
  queueResume,
];

const GROUPS = new Set(COMMANDS.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0]!));

export const HELP = `spillway: the Spillway task queue from the command line

Usage: spillway <command> [options]

${COMMANDS.map((c) => `  ${c.name.padEnd(20)} ${c.summary}`).join('\n')}

Options of every command:
      --url <url>   the API (default: SPILLWAY_URL, else http://127.0.0.1:8080)
      --json        machine-readable output: one JSON document on stdout
  -h, --help        help for a command: spillway <command> --help

SPILLWAY_API_KEY is sent as the bearer key. Results go to stdout, notes and errors to stderr.

Exit codes: 0 ok; 1 a task failed or was cancelled (wait); 2 usage error or no configuration;
3 the API or the Kubernetes API is unreachable; 4 the API or the Kubernetes API answered with
an error, or a submitted task was rejected; 5 timed out (wait); 70 a bug in the CLI.`;

/** Runs one command line; never throws: every failure becomes a message on stderr and an exit code. */
export async function runCli(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  io: Io,
): Promise<ExitCode> {
  try {
    if (argv.length === 1 && argv[0] === '--version') {
      io.stdout.write(`${SPILLWAY_VERSION}\n`);
      return EXIT.ok;
    }
    const first = takeWords(argv, 1).words[0];
    const depth = first !== undefined && GROUPS.has(first) ? 2 : 1;
    const { words, rest } = takeWords(argv, depth);
    const name = words.join(' ');
    if (words.length === 0) {
      if (argv.includes('--help') || argv.includes('-h')) {
        io.stdout.write(HELP + '\n');
        return EXIT.ok;
      }
      throw usageError(`give a command\n\n${HELP}`);
    }
    const found = COMMANDS.find((c) => c.name === name);
    if (!found) {
      const known = depth === 2 ? COMMANDS.filter((c) => c.name.startsWith(`${first} `)) : COMMANDS;
      throw usageError(`unknown command "${name}"; one of: ${known.map((c) => c.name).join(', ')}`);
    }
    const args = parse(found.name, rest, found.options);
    if (args.values.help) {
      io.stdout.write(found.usage + '\n');
      return EXIT.ok;
    }
    const config = loadCliConfig(env, args.values.url);
    const out = new Output(io, args.values.json === true);
    const client = new ApiClient(config.url, config.apiKey);
    return await found.run({ config, client, out, io }, args);
  } catch (err) {
    if (err instanceof CliError) {
      io.stderr.write(`spillway: ${err.message}\n`);
      return err.exitCode;
    }
    io.stderr.write(
      `spillway: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return EXIT.internal;
  }
}
