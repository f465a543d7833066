import { parseArgs } from 'node:util';
import { usageError } from './exit-codes';

/** One parseArgs option: the subset this CLI uses. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
}
export type OptionSpecs = Record<string, OptionSpec>;

/** Options every command takes, before or after the command. */
export const GLOBAL_OPTIONS = {
  url: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionSpecs;

type Values<O extends OptionSpecs> = {
  [K in keyof O]?: O[K]['type'] extends 'string'
    ? O[K]['multiple'] extends true
      ? string[]
      : string
    : boolean;
};

export interface Parsed<O extends OptionSpecs> {
  values: Values<O & typeof GLOBAL_OPTIONS>;
  positionals: string[];
}

/**
 * Takes the command words (`submit`, `dead-letters list`) out of argv, wherever the global
 * options stand, and leaves the rest for the command's own parse().
 */
export function takeWords(argv: readonly string[], count: number): { words: string[]; rest: string[] } {
  const words: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (words.length < count && !token.startsWith('-')) {
      words.push(token);
      continue;
    }
    rest.push(token);
    // A global option's value is not a command word.
    if (token === '--url' && i + 1 < argv.length) rest.push(argv[++i]!);
  }
  return { words, rest };
}

/** parseArgs, strict: an unknown option or a missing value is a usage error naming the command. */
export function parse<O extends OptionSpecs>(command: string, args: string[], options: O): Parsed<O> {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...GLOBAL_OPTIONS, ...options },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as Parsed<O>['values'], positionals };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw usageError(`${message}\nsee: spillway ${command} --help`);
  }
}

/** An integer option within [min, max]; undefined when absent. */
export function intOption(
  value: string | undefined,
  name: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^-?\d+$/.test(value) || n < min || n > max) {
    throw usageError(`--${name} "${value}" is not valid: expected an integer from ${min} to ${max}`);
  }
  return n;
}

/** A number of seconds (fractions allowed) within [min, max]; undefined when absent. */
export function secondsOption(
  value: string | undefined,
  name: string,
  min = 0,
  max = 365 * 24 * 3600,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || n < min || n > max) {
    throw usageError(`--${name} "${value}" is not valid: expected seconds from ${min} to ${max}`);
  }
  return n;
}

/** Parses a JSON argument, naming it when it is not JSON. */
export function jsonArgument(raw: string, what: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw usageError(
      `${what} is not JSON (${err instanceof Error ? err.message : String(err)}); quote it, e.g. '{"a":1}'`,
    );
  }
}
