/**
 * Exit codes scripts can rely on; README "CLI" lists them. Never renumber one.
 */
export const EXIT = {
  /** Done; for `wait`, every task succeeded. */
  ok: 0,
  /** `wait`: a task failed or was cancelled. */
  taskFailed: 1,
  /** Bad arguments or input, or no configuration to act on (e.g. no kubeconfig). */
  usage: 2,
  /** The API (or, for `fleet`, the Kubernetes API) did not answer. */
  unreachable: 3,
  /** The API or the Kubernetes API answered with an error (4xx/5xx), or `submit` had tasks rejected. */
  apiError: 4,
  /** `wait`: the timeout passed before every task finished. */
  timeout: 5,
  /** A bug in the CLI itself (sysexits' EX_SOFTWARE); the message carries the stack. */
  internal: 70,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Ends the command: its message goes to stderr, its code is the exit code. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function usageError(message: string): CliError {
  return new CliError(EXIT.usage, message);
}
