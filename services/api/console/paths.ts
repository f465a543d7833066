import { extname, join } from 'node:path';

/** The URL prefix the console is served under; index.html refers to its assets relative to it. */
export const CONSOLE_PATH = '/console';

/**
 * Where `npm run build` writes the console (services/api/console/build.mjs): dist/console at the
 * repository's root. Compiled, this file is dist/services/api/console/paths.js; run from its
 * sources (ts-jest, tsx) it is services/api/console/paths.ts: both must find the same folder.
 */
export function defaultConsoleDir(): string {
  const fromSources = extname(__filename) === '.ts';
  const root = join(__dirname, '..', '..', '..');
  return fromSources ? join(root, 'dist', 'console') : join(root, 'console');
}
