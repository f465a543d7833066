import { readFile } from 'node:fs/promises';
import type { Logger } from '../shared/logger';
import { AccessFileError, parseAccessFiles, type AccessSource } from '../shared/tenancy/access-file';
import { ApiKeyRing, type KeyRingSource } from './auth';

/** One file of the access list: API_KEYS_FILE, or API_TENANTS_FILE (digests only). */
export interface AccessFilePath {
  /** The variable that named it, for errors and logs. */
  env: string;
  path: string;
  digestsOnly?: boolean;
}

export interface ApiKeyFileOptions {
  /** Keys accepted whatever the files say (API_KEYS). */
  fixed: readonly string[];
  /** How often the files are read again (API_KEYS_RELOAD_MS). */
  reloadMs: number;
  logger: Logger;
  /** Told of each ring a reload puts in force (the tenants' limits may have changed). */
  onChange?: (ring: ApiKeyRing) => void;
}

/**
 * API_KEYS_FILE, and API_TENANTS_FILE beside it (their format: shared/tenancy/access-file.ts,
 * read as one), re-read every `reloadMs`. A Kubernetes Secret or ConfigMap mounted as a volume is
 * updated in place (without subPath), so removing a key from the Secret revokes it within the
 * kubelet's sync period plus `reloadMs`, with no restart. A file that disappears counts as empty
 * (its keys are revoked). One that cannot be read for another reason, or now has a bad line,
 * leaves the last good files in force: half an edit must not lock out every tenant whose line
 * came after the mistake.
 */
export class ApiKeyFile {
  private ring: ApiKeyRing;
  private lastTexts: string[];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly files: readonly AccessFilePath[],
    private readonly options: ApiKeyFileOptions,
    texts: string[],
    ring: ApiKeyRing,
  ) {
    this.lastTexts = texts;
    this.ring = ring;
  }

  /** Reads the files once, refusing to start on one that is missing or holds a bad line. */
  static async open(files: readonly AccessFilePath[], options: ApiKeyFileOptions): Promise<ApiKeyFile> {
    const texts = await Promise.all(
      files.map(({ env, path }) =>
        readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
          throw new Error(`${env}=${path} cannot be read: ${err.code ?? err}`);
        }),
      ),
    );
    let ring;
    try {
      ring = new ApiKeyRing(options.fixed, parseAccessFiles(sourcesOf(files, texts)));
    } catch (err) {
      // The problems name files and lines, never a key.
      if (err instanceof AccessFileError) throw new Error(`${namesOf(files)}: ${err.message}`);
      throw err;
    }
    const file = new ApiKeyFile(files, options, texts, ring);
    if (ring.size === 0)
      options.logger.warn(`${namesOf(files)} hold no key: every /v1 request is refused`, {
        paths: files.map((f) => f.path),
      });
    file.schedule();
    return file;
  }

  /** The ring in force now; pass to apiKeyAuth. */
  readonly current: KeyRingSource = () => this.ring;

  /** Reads the files now (the timer does this every reloadMs); resolves once the ring is current. */
  async reload(): Promise<void> {
    const { logger, fixed } = this.options;
    const texts: string[] = [];
    for (const { env, path } of this.files) {
      try {
        texts.push(await readFile(path, 'utf8'));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') {
          logger.warn(`${env} not re-read; keeping the keys last read`, { path, error: code });
          return;
        }
        texts.push('');
      }
    }
    if (texts.every((text, i) => text === this.lastTexts[i])) return;
    this.lastTexts = texts;
    let ring;
    try {
      ring = new ApiKeyRing(fixed, parseAccessFiles(sourcesOf(this.files, texts)));
    } catch (err) {
      if (!(err instanceof AccessFileError)) throw err;
      logger.error(`${namesOf(this.files)} have bad lines; the last good files stay in force`, {
        paths: this.files.map((f) => f.path),
        problems: err.problems,
      });
      return;
    }
    this.ring = ring;
    logger.info('API keys reloaded', {
      paths: this.files.map((f) => f.path),
      keys: ring.size,
      tenants: ring.tenantList().length,
    });
    this.options.onChange?.(ring);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      void this.reload().finally(() => this.schedule());
    }, this.options.reloadMs);
    // Reloading keys is no reason to keep the process alive.
    this.timer.unref();
  }
}

/** With one file its lines are "line 3", as before API_TENANTS_FILE; with two, "API_KEYS_FILE line 3". */
function sourcesOf(files: readonly AccessFilePath[], texts: string[]): AccessSource[] {
  return files.map((f, i) => ({
    name: files.length > 1 ? f.env : '',
    text: texts[i]!,
    ...(f.digestsOnly && { digestsOnly: true }),
  }));
}

const namesOf = (files: readonly AccessFilePath[]) => files.map((f) => `${f.env}=${f.path}`).join(' and ');
