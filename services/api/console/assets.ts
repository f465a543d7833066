import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Logger } from '../../shared/logger';

/**
 * The built console (index.html and its content-hashed assets), read into memory once at start-up.
 * It is a few hundred KiB; holding it means the set of files served is fixed when the API starts
 * (no path from a request ever reaches the file system) and each is compressed once, not per request.
 */

export const INDEX_FILE = 'index.html';

export interface ConsoleAsset {
  body: Buffer;
  /** The body gzipped, for types worth compressing; absent otherwise. */
  gzip?: Buffer;
  contentType: string;
  /**
   * A name with esbuild's content hash (`console-5ZK3Q2ML.js`) never changes content, so browsers
   * may keep it for a year; anything else (index.html) must be revalidated to pick up a new build.
   */
  immutable: boolean;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.map', '.svg']);

/** esbuild's `[name]-[hash]`: the hash is 8 characters of A-Z and 0-9. */
const HASHED_NAME = /-[A-Z0-9]{8}\.[a-z0-9.]+$/;

export class ConsoleAssets {
  private constructor(private readonly files: ReadonlyMap<string, ConsoleAsset>) {}

  /** Reads every servable file of `dir` (not its subfolders); throws when index.html is missing. */
  static async load(dir: string): Promise<ConsoleAssets> {
    const entries = await readdir(dir, { withFileTypes: true });
    const files = new Map<string, ConsoleAsset>();
    for (const entry of entries) {
      const ext = extname(entry.name);
      const contentType = CONTENT_TYPES[ext];
      if (!entry.isFile() || !contentType) continue;
      const body = await readFile(join(dir, entry.name)).catch((err: NodeJS.ErrnoException) => {
        // Gone since the listing: a build running now removed an earlier build's file.
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (!body) continue;
      files.set(entry.name, {
        body,
        ...(COMPRESSIBLE.has(ext) && body.length > 1024 && { gzip: gzipSync(body) }),
        contentType,
        immutable: entry.name !== INDEX_FILE && HASHED_NAME.test(entry.name),
      });
    }
    if (!files.has(INDEX_FILE)) throw new Error(`no ${INDEX_FILE} in ${dir}`);
    return new ConsoleAssets(files);
  }

  get(name: string): ConsoleAsset | undefined {
    return this.files.get(name);
  }

  get names(): string[] {
    return [...this.files.keys()];
  }
}

/**
 * The console for main.ts, or undefined (with a warning) when it was not built: an API built with
 * `tsc` alone still serves /v1, and /console answers 404 as on an API with the console turned off.
 */
export async function loadConsoleAssets(dir: string, logger: Logger): Promise<ConsoleAssets | undefined> {
  try {
    return await ConsoleAssets.load(dir);
  } catch (err) {
    logger.warn('the console is not built: /console answers 404 (npm run build builds it)', {
      dir,
      error: (err as Error).message,
    });
    return undefined;
  }
}
