import { readFile } from 'node:fs/promises';
import type { Logger } from '../shared/logger';
import { AccessFileError, parseAccessFile, type AccessList } from '../shared/tenancy/access-file';
import { ApiKeyRing, type KeyRingSource } from './auth';

export interface ApiKeyFileOptions {
  /** Keys accepted whatever the file says (API_KEYS). */
  fixed: readonly string[];
  /** How often the file is read again (API_KEYS_RELOAD_MS). */
  reloadMs: number;
  logger: Logger;
  /** Told of each ring a reload puts in force (the tenants' limits may have changed). */
  onChange?: (ring: ApiKeyRing) => void;
}

/**
 * API_KEYS_FILE (its format: shared/tenancy/access-file.ts), re-read every `reloadMs`. A
 * Kubernetes Secret mounted as a volume is updated in place (without subPath), so removing a key
 * from the Secret revokes it within the kubelet's sync period plus `reloadMs`, with no restart.
 * A file that disappears counts as empty (its keys are revoked). One that cannot be read for
 * another reason, or now has a bad line, leaves the last good file in force: half an edit must
 * not lock out every tenant whose line came after the mistake.
 */
export class ApiKeyFile {
  private ring: ApiKeyRing;
  private lastText: string;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly path: string,
    private readonly options: ApiKeyFileOptions,
    text: string,
    access: AccessList,
  ) {
    this.lastText = text;
    this.ring = new ApiKeyRing(options.fixed, access);
  }

  /** Reads the file once, refusing to start on a file that is missing or holds a bad key. */
  static async open(path: string, options: ApiKeyFileOptions): Promise<ApiKeyFile> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new Error(`API_KEYS_FILE=${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
    let access;
    try {
      access = parseAccessFile(text);
    } catch (err) {
      // The problems name lines, never a key.
      if (err instanceof AccessFileError) throw new Error(`API_KEYS_FILE=${path}: ${err.message}`);
      throw err;
    }
    const file = new ApiKeyFile(path, options, text, access);
    if (file.ring.size === 0)
      options.logger.warn('API_KEYS_FILE holds no key: every /v1 request is refused', { path });
    file.schedule();
    return file;
  }

  /** The ring in force now; pass to apiKeyAuth. */
  readonly current: KeyRingSource = () => this.ring;

  /** Reads the file now (the timer does this every reloadMs); resolves once the ring is current. */
  async reload(): Promise<void> {
    const { logger, fixed } = this.options;
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') {
        logger.warn('API_KEYS_FILE not re-read; keeping the keys last read', {
          path: this.path,
          error: code,
        });
        return;
      }
      text = '';
    }
    if (text === this.lastText) return;
    this.lastText = text;
    let ring;
    try {
      ring = new ApiKeyRing(fixed, parseAccessFile(text));
    } catch (err) {
      if (!(err instanceof AccessFileError)) throw err;
      logger.error('API_KEYS_FILE has bad lines; the last good file stays in force', {
        path: this.path,
        problems: err.problems,
      });
      return;
    }
    this.ring = ring;
    logger.info('API keys reloaded', {
      path: this.path,
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
