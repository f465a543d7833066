/**
 * Reads environment variables into typed values, collecting every problem instead of stopping at
 * the first, so an operator fixes a bad deployment in one go. Unlike a silent fallback, a value
 * that is set but wrong is always an error naming the variable.
 */

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

export class EnvReader {
  private readonly problems: string[] = [];

  constructor(private readonly env: Env) {}

  /** The trimmed value, or `fallback` when unset or empty. */
  string(name: string, fallback: string, pattern?: { re: RegExp; hint: string }): string {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    if (pattern && !pattern.re.test(raw)) this.problem(name, raw, pattern.hint);
    return raw;
  }

  /** A value that must be set; `why` says when (the value itself is never echoed). */
  required(name: string, why: string): string {
    const raw = this.raw(name);
    if (raw === undefined) {
      this.problems.push(`${name} is not set: ${why}`);
      return '';
    }
    return raw;
  }

  int(name: string, fallback: number, range: { min: number; max?: number }): number {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    const max = range.max ?? Number.MAX_SAFE_INTEGER;
    if (!/^-?\d+$/.test(raw) || value < range.min || value > max) {
      this.problem(name, raw, `an integer from ${range.min} to ${max}`);
      return fallback;
    }
    return value;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problem(name, raw, `one of ${allowed.join(', ')}`);
      return fallback;
    }
    return raw as T;
  }

  /** Comma-separated values, each checked against `pattern` (a RegExp or any `test`); empty when unset. */
  list(name: string, pattern: { re: Pick<RegExp, 'test'>; hint: string }, secret = false): string[] {
    const raw = this.raw(name);
    if (raw === undefined) return [];
    const items = raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = items.filter((item) => !pattern.re.test(item));
    if (bad.length > 0) {
      const shown = secret ? `${bad.length} value(s) not shown` : bad.join(',');
      this.problems.push(`${name} has values that are not valid (${shown}): expected ${pattern.hint}`);
    }
    return items;
  }

  /** Comma-separated `host:port` pairs, e.g. KAFKA_BROKERS. */
  hostPorts(name: string, fallback: string): string[] {
    const raw = this.raw(name) ?? fallback;
    const items = raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = items.filter((item) => !/^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/.test(item));
    if (items.length === 0 || bad.length > 0) {
      this.problem(name, raw, 'a comma-separated list of host:port');
    }
    return items;
  }

  url(name: string, fallback: string, protocols: readonly string[]): string {
    const raw = this.raw(name) ?? fallback;
    let ok = false;
    try {
      ok = protocols.includes(new URL(raw).protocol);
    } catch {
      ok = false;
    }
    if (!ok) this.problem(name, redactUrl(raw), `a URL starting with ${protocols.join(' or ')}//`);
    return raw;
  }

  /** Throws a ConfigError naming every bad variable seen so far. */
  finish(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }

  private raw(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === '' ? undefined : value;
  }

  private problem(name: string, value: string, expected: string): void {
    this.problems.push(`${name}=${JSON.stringify(value)} is not valid: expected ${expected}`);
  }
}

/** Keeps passwords in URLs out of error messages and logs. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return raw.replace(/\/\/[^@/]*@/, '//***@');
  }
}
