import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { ApiError } from '../shared/errors';

const digest = (key: string) => createHash('sha256').update(key).digest();

declare module 'express-serve-static-core' {
  interface Request {
    /** Identifies the caller's key without revealing it (scopes Idempotency-Keys); 'anonymous' when auth is off. */
    principal: string;
  }
}

/** Who a request counts against: its API key's principal, or its address when auth is off. */
export function clientOf(req: Request): string {
  return req.principal === 'anonymous' ? `ip:${req.ip ?? 'unknown'}` : `key:${req.principal}`;
}

/** The keys accepted at one moment; a reload of API_KEYS_FILE builds a new ring. */
export class ApiKeyRing {
  private readonly digests: Buffer[];

  constructor(keys: Iterable<string>) {
    this.digests = [...new Set(keys)].map(digest);
  }

  get size(): number {
    return this.digests.length;
  }

  /**
   * The principal of `offered`, or undefined when no key matches. Both sides are SHA-256 digests
   * (fixed length, so timingSafeEqual applies), and every key is compared without stopping at a
   * match, so timing tells nothing about any key or about how many there are before it.
   */
  principalOf(offered: string): string | undefined {
    const candidate = digest(offered);
    let found = false;
    for (const known of this.digests) {
      if (timingSafeEqual(known, candidate)) found = true;
    }
    return found ? candidate.subarray(0, 8).toString('hex') : undefined;
  }
}

/** Where the current ring comes from: fixed (API_KEYS), or re-read from API_KEYS_FILE. */
export type KeyRingSource = () => ApiKeyRing;

/**
 * Bearer API keys; `keys` undefined turns auth off. A source whose ring becomes empty refuses
 * everyone: revoking every key must lock the API, never open it. Keys in query strings are never
 * read: they end up in access logs, proxies and browser history.
 */
export function apiKeyAuth(keys: KeyRingSource | undefined): RequestHandler {
  return (req, res, next) => {
    if (!keys) {
      req.principal = 'anonymous';
      return next();
    }
    const header = req.get('authorization');
    // The scheme is case-insensitive (RFC 9110); the key is one run of visible ASCII.
    const match = header ? /^Bearer ([\x21-\x7e]+)$/i.exec(header) : null;
    if (!match) {
      res.set('WWW-Authenticate', 'Bearer realm="spillway"');
      throw new ApiError(
        401,
        'unauthorized',
        header ? 'use "Authorization: Bearer <key>"' : 'an API key is required',
      );
    }
    const principal = keys().principalOf(match[1]!);
    if (principal === undefined) {
      res.set('WWW-Authenticate', 'Bearer realm="spillway", error="invalid_token"');
      throw new ApiError(401, 'unauthorized', 'the API key is not valid');
    }
    req.principal = principal;
    next();
  };
}
