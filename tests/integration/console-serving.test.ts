import { join } from 'node:path';
import { loadApiConfig } from '../../services/api/config';
import { defaultConsoleDir } from '../../services/api/console/paths';
import { apiFor } from '../helpers/services';
import { uniqueQueue } from '../helpers/stack';

/**
 * The web console as the API serves it (issue 21): the built files of dist/console (the tests'
 * global setup builds them), their headers, and the switch that turns it off. What the pages do
 * in a browser is tests/console's.
 */

const KEY = 'console-key-0123456789abcdef';
/** The policy of the UI contract, word for word: a change here is a change of the contract. */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; " +
  "frame-ancestors 'none'; form-action 'self'";
const YEAR = 'public, max-age=31536000, immutable';

interface ErrorBody {
  error: { code: string };
}

const get = (url: string, headers: Record<string, string> = {}) =>
  fetch(url, { headers, redirect: 'manual' });

function expectConsoleHeaders(res: Response): void {
  expect(res.headers.get('content-security-policy')).toBe(CSP);
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  expect(res.headers.get('referrer-policy')).toBe('no-referrer');
  expect(res.headers.get('x-frame-options')).toBe('DENY');
}

/** The URLs of index.html's <script src> and <link href>. */
function referencedAssets(html: string): string[] {
  return [...html.matchAll(/<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
}

describe('the console, served by the API', () => {
  const queue = uniqueQueue();
  let api: Awaited<ReturnType<typeof apiFor>>;
  let html: string;
  beforeAll(async () => {
    api = await apiFor(queue, { API_KEYS: KEY });
    html = await (await get(`${api.url}/console/`)).text();
  });
  afterAll(() => api.stop());

  it('redirects /console to /console/, where relative asset URLs resolve', async () => {
    const res = await get(`${api.url}/console`);
    expect(res.status).toBe(301);
    expect(res.headers.get('location')).toBe('/console/');
    expectConsoleHeaders(res);
  });

  it('serves index.html without a key, revalidated on every load', async () => {
    for (const path of ['/console/', '/console/index.html']) {
      const res = await get(`${api.url}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expectConsoleHeaders(res);
      expect(await res.text()).toBe(html);
    }
    expect(html).toMatch(/<title>Spillway console<\/title>/);
  });

  it('references only its own hashed assets, with no inline script or style', () => {
    const assets = referencedAssets(html);
    expect(assets.filter((a) => a.endsWith('.js'))).toHaveLength(1);
    expect(assets.filter((a) => a.endsWith('.css'))).toHaveLength(1);
    // Same origin, under /console/: no scheme, no protocol-relative URL, no other path.
    for (const asset of assets) expect(asset).toMatch(/^\.\/[\w.-]+-[A-Z0-9]{8}\.(js|css|svg)$/);
    // Every <script> loads a file and has no body; no <style> element; no style or on* attribute.
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts).toHaveLength(1);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/\bsrc="/);
      expect(body!.trim()).toBe('');
    }
    expect(html).not.toMatch(/<style\b/i);
    expect(html).not.toMatch(/\sstyle=/i);
    expect(html).not.toMatch(/\son[a-z]+=/i);
  });

  it('serves each asset with its type and a year of caching', async () => {
    const types: Record<string, RegExp> = {
      js: /^text\/javascript; charset=utf-8$/,
      css: /^text\/css; charset=utf-8$/,
      svg: /^image\/svg\+xml$/,
    };
    for (const asset of referencedAssets(html)) {
      const res = await get(new URL(asset, `${api.url}/console/`).href);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(types[asset.split('.').pop()!]!);
      expect(res.headers.get('cache-control')).toBe(YEAR);
      expectConsoleHeaders(res);
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(100);
    }
  });

  it('compresses what is worth compressing for clients that take gzip', async () => {
    const script = referencedAssets(html).find((a) => a.endsWith('.js'))!;
    const url = new URL(script, `${api.url}/console/`).href;
    const gzipped = await get(url, { 'accept-encoding': 'gzip' });
    expect(gzipped.headers.get('content-encoding')).toBe('gzip');
    expect(gzipped.headers.get('vary')).toMatch(/Accept-Encoding/i);
    const plain = await get(url, { 'accept-encoding': 'identity' });
    expect(plain.headers.get('content-encoding')).toBeNull();
    // fetch decompresses: both carry the same script.
    expect(await gzipped.text()).toBe(await plain.text());
  });

  it('answers 404, with the same headers, for anything it did not build', async () => {
    for (const path of [
      '/console/console-AAAAAAAA.js',
      '/console/nothing.css',
      '/console/app/main.tsx',
      '/console/..%2Fpackage.json',
    ]) {
      const res = await get(`${api.url}${path}`);
      expect(res.status).toBe(404);
      expectConsoleHeaders(res);
      expect(((await res.json()) as ErrorBody).error.code).toBe('route_not_found');
    }
  });

  it('leaves /v1 behind its key: the console holds no data of its own', async () => {
    expect((await get(`${api.url}/v1/stats`)).status).toBe(401);
    expect((await get(`${api.url}/v1/tasks?limit=1`)).status).toBe(401);
    expect((await get(`${api.url}/v1/stats`, { authorization: `Bearer ${KEY}` })).status).toBe(200);
    // The console's headers are the console's: API answers do not carry its policy.
    expect((await get(`${api.url}/v1/stats`)).headers.get('content-security-policy')).toBeNull();
  });
});

describe('CONSOLE_ENABLED=false', () => {
  const queue = uniqueQueue();
  let api: Awaited<ReturnType<typeof apiFor>>;
  beforeAll(async () => (api = await apiFor(queue, { CONSOLE_ENABLED: 'false' })));
  afterAll(() => api.stop());

  it('answers /console as any unknown route', async () => {
    for (const path of ['/console', '/console/', '/console/index.html']) {
      const res = await get(`${api.url}${path}`);
      expect(res.status).toBe(404);
      expect(((await res.json()) as ErrorBody).error.code).toBe('route_not_found');
      expect(res.headers.get('content-security-policy')).toBeNull();
    }
    expect((await get(`${api.url}/healthz`)).status).toBe(200);
  });
});

describe('the console settings', () => {
  const env = { SPILLWAY_QUEUE: 'console-config', KAFKA_BROKERS: 'localhost:9092', REDIS_URL: 'redis://x' };

  it('are on by default, reading the dist/console the build writes', () => {
    const config = loadApiConfig(env);
    expect(config.webConsole).toEqual({ enabled: true, dir: defaultConsoleDir() });
    // From the sources (here, under ts-jest) as from dist/services: the repository's dist/console.
    expect(defaultConsoleDir()).toBe(join(__dirname, '..', '..', 'dist', 'console'));
  });

  it('refuse a value that is not a boolean, and a relative folder, naming the variable', () => {
    expect(() => loadApiConfig({ ...env, CONSOLE_ENABLED: 'yes' })).toThrow(/CONSOLE_ENABLED/);
    expect(() => loadApiConfig({ ...env, CONSOLE_DIR: 'dist/console' })).toThrow(/CONSOLE_DIR/);
  });
});
