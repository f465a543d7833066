import type { OptionSpecs, Parsed } from './args';
import { ApiResponseError, type ApiClient } from './client';
import type { CliConfig } from './config';
import { EXIT, type ExitCode } from './exit-codes';
import type { Io, Output } from './output';

/** What every command gets: the configuration, the API client and where to write. */
export interface Context {
  config: CliConfig;
  client: ApiClient;
  out: Output;
  io: Io;
}

/** One command (`submit`) or sub-command (`dead-letters list`); cli.ts dispatches on `name`. */
export interface Command<O extends OptionSpecs = OptionSpecs> {
  name: string;
  /** One line for `spillway --help`. */
  summary: string;
  /** The full `spillway <name> --help` text. */
  usage: string;
  options: O;
  run(ctx: Context, args: Parsed<O>): Promise<ExitCode>;
}

/** Keeps each command's option types while collecting them in one list. */
export function command<O extends OptionSpecs>(spec: Command<O>): Command {
  return spec as unknown as Command;
}

/**
 * Runs `act` for each id in turn, as `cancel` and `dead-letters replay` do: an error answer for
 * one id is reported in its place (exit 4) and the rest still run; an unreachable API or a 5xx
 * stops the command, since the remaining ids would fail the same way.
 */
export async function forEachId<T>(
  ctx: Context,
  ids: readonly string[],
  act: (id: string) => Promise<T>,
  lineOf: (id: string, result: T) => string,
): Promise<ExitCode> {
  let code: ExitCode = EXIT.ok;
  const results: unknown[] = [];
  for (const id of ids) {
    try {
      const result = await act(id);
      results.push(result);
      if (!ctx.out.json) ctx.out.line(lineOf(id, result));
    } catch (err) {
      if (!(err instanceof ApiResponseError) || err.status >= 500) throw err;
      code = EXIT.apiError;
      results.push({ id, error: { code: err.code, message: err.apiMessage } });
      if (!ctx.out.json) ctx.out.note(`${id}: ${err.code}: ${err.apiMessage}`);
    }
  }
  if (ctx.out.json) ctx.out.document(results);
  return code;
}
