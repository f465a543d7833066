/**
 * The console's one way to call the API. The key lives in sessionStorage (gone when the tab
 * closes; never a cookie, so no other site can make the browser send it, and never in a URL,
 * which ends up in logs and history) and travels only as `Authorization: Bearer`.
 */

const KEY_ITEM = 'spillway.apiKey';

/**
 * The API's root, from where the console is served (`<root>/console/`): the same origin, and
 * still right when a proxy serves the API under a path prefix.
 */
export const API_ROOT = location.pathname.replace(/\/console(\/.*)?$/, '');

export const keyStore = {
  get(): string | null {
    return sessionStorage.getItem(KEY_ITEM);
  },
  set(key: string): void {
    sessionStorage.setItem(KEY_ITEM, key);
  },
  clear(): void {
    sessionStorage.removeItem(KEY_ITEM);
  },
};

/** An answer other than 2xx, in the API's error shape, or no answer at all (status 0). */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: { field: string; message: string }[] = [],
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

let unauthorized: () => void = () => undefined;

/** Called on any 401: the key was revoked or is wrong, so the app shows the sign-in view. */
export function onUnauthorized(handler: () => void): void {
  unauthorized = handler;
}

/**
 * A 401 to a request sent with `usedKey`. It signs out only while that key is still the one held:
 * the late answer to a request of an earlier session must not sign the new one out.
 */
export function refusedKey(usedKey: string | null): void {
  if (keyStore.get() === usedKey) unauthorized();
}

export function authHeaders(key: string | null = keyStore.get()): Record<string, string> {
  return key ? { Authorization: `Bearer ${key}` } : {};
}

export interface RequestOptions {
  body?: unknown;
  signal?: AbortSignal;
  /** Send this key instead of the stored one (sign-in tries a key before keeping it). */
  key?: string | null;
  /** A 401 is the caller's to handle (sign-in), not a reason to sign out. */
  handle401?: boolean;
}

export async function api<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const key = options.key === undefined ? keyStore.get() : options.key;
  const headers: Record<string, string> = { Accept: 'application/json', ...authHeaders(key) };
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(API_ROOT + path, {
      method,
      headers,
      cache: 'no-store',
      ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
      ...(options.signal && { signal: options.signal }),
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiFailure(0, 'network', 'The API did not answer. Is it running?');
  }
  if (res.ok) return (await res.json()) as T;
  const failure = await failureOf(res);
  if (res.status === 401 && !options.handle401) refusedKey(key);
  throw failure;
}

export async function failureOf(res: Response): Promise<ApiFailure> {
  try {
    const body = (await res.json()) as {
      error?: { code?: string; message?: string; details?: { field: string; message: string }[] };
    };
    const { code = 'error', message = res.statusText, details = [] } = body.error ?? {};
    return new ApiFailure(res.status, code, message, details);
  } catch {
    return new ApiFailure(res.status, 'error', `HTTP ${res.status} ${res.statusText}`);
  }
}

/** `?a=1&b=2` from the set values of `params` (empty ones left out), or ''. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

export const enc = encodeURIComponent;
