import { NO_PROGRESS, ProgressBar, type Progress } from './progress';

/** The process's streams, passed in so tests and main.ts decide what they are. */
export interface Io {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  /**
   * A signal aborted at the first SIGINT or SIGTERM, for commands that run until stopped
   * (`tasks list --watch`); asking for it replaces the default of dying at once, for the first
   * signal only. Absent: such commands run until their stream fails.
   */
  interrupts?: () => AbortSignal;
}

/**
 * Results go to stdout (one JSON document with --json, text without); notes, errors and
 * progress go to stderr, so piping stdout stays clean.
 */
export class Output {
  constructor(
    readonly io: Io,
    readonly json: boolean,
  ) {}

  /** The --json result of a command: one document. */
  document(value: unknown): void {
    this.io.stdout.write(JSON.stringify(value, null, 2) + '\n');
  }

  line(text = ''): void {
    this.io.stdout.write(text + '\n');
  }

  note(text: string): void {
    this.io.stderr.write(text + '\n');
  }

  /** A bar on stderr in human mode when stderr is a terminal; otherwise nothing is drawn. */
  progress(total: number, label: string): Progress {
    return !this.json && this.io.stderr.isTTY ? new ProgressBar(this.io.stderr, total, label) : NO_PROGRESS;
  }
}

/** Rows as aligned columns (two spaces apart); the last column is not padded. */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

/** "0.8 s", "4 min 12 s", "2 h 5 min". */
export function duration(seconds: number): string {
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** JSON on one line, cut to `max` characters for a table cell. */
export function brief(value: unknown, max = 60): string {
  const text = value === undefined ? '' : JSON.stringify(value);
  return text.length > max ? text.slice(0, max - 1) + '…' : text;
}
