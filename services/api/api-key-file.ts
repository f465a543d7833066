import { readFile } from 'node:fs/promises';
import type { Logger } from '../shared/logger';
import { ApiKeyRing, type KeyRingSource } from './auth';

/** 16 to 256 printable ASCII characters: the rule for API_KEYS and for every line of API_KEYS_FILE. */
export const API_KEY_PATTERN = /^[\x21-\x7e]{16,256}$/;

export interface ApiKeyFileOptions {
  /** Keys accepted whatever the file says (API_KEYS). */
  fixed: readonly string[];
  /** How often the file is read again (API_KEYS_RELOAD_MS). */
  reloadMs: number;
  logger: Logger;
}

/**
 * API_KEYS_FILE: keys one per line (commas also separate, as in API_KEYS), re-read every
 * `reloadMs`. A Kubernetes Secret mounted as a volume is updated in place (without subPath), so
 * removing a key from the Secret revokes it within the kubelet's sync period plus `reloadMs`,
 * with no restart. A file that disappears counts as empty (its keys are revoked); one that cannot
 * be read for another reason keeps the keys last read.
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
  ) {
    this.lastText = text;
    this.ring = new ApiKeyRing([...options.fixed, ...parse(text).valid]);
  }

  /** Reads the file once, refusing to start on a file that is missing or holds a bad key. */
  static async open(path: string, options: ApiKeyFileOptions): Promise<ApiKeyFile> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new Error(`API_KEYS_FILE=${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
    const { invalid } = parse(text);
    if (invalid > 0) {
      // The keys themselves are never echoed.
      throw new Error(
        `API_KEYS_FILE=${path} has ${invalid} key(s) that are not 16 to 256 printable characters`,
      );
    }
    const file = new ApiKeyFile(path, options, text);
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
    const { valid, invalid } = parse(text);
    this.ring = new ApiKeyRing([...fixed, ...valid]);
    // A running API cannot refuse to start: a bad line is dropped (that key does not work) and said.
    if (invalid > 0) logger.warn('API_KEYS_FILE has keys that are not valid; they are ignored', { invalid });
    logger.info('API keys reloaded', { path: this.path, keys: this.ring.size });
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

function parse(text: string): { valid: string[]; invalid: number } {
  const entries = text
    .split(/[\r\n,]/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const valid = entries.filter((key) => API_KEY_PATTERN.test(key));
  return { valid, invalid: entries.length - valid.length };
}
