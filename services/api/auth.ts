import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { ApiError } from '../shared/errors';

const digest = (key: string) => createHash('sha256').update(key).digest();

declare module 'express-serve-static-core' {
  interface Request {
    /** Identifies the caller's key without revealing it (scopes Idempotency-Keys); 'anonymous' when auth is off. */
    principal: string;
  }
}

/**
 * Bearer API keys. Keys are compared as SHA-256 digests with timingSafeEqual, against every
 * configured key without stopping at a match, so timing tells nothing about any key. Keys in
 * query strings are never read: they end up in access logs and browser history.
 */
export function apiKeyAuth(keys: readonly string[]): RequestHandler {
  const digests = keys.map(digest);
  return (req, res, next) => {
    if (digests.length === 0) {
      req.principal = 'anonymous';
      return next();
    }
    const header = req.get('authorization');
    const match = header ? /^Bearer ([\x21-\x7e]+)$/.exec(header) : null;
    if (!match) {
      res.set('WWW-Authenticate', 'Bearer realm="spillway"');
      throw new ApiError(
        401,
        'unauthorized',
        header ? 'use "Authorization: Bearer <key>"' : 'an API key is required',
      );
    }
    const offered = digest(match[1]!);
    let found = -1;
    digests.forEach((known, i) => {
      if (timingSafeEqual(known, offered)) found = i;
    });
    if (found < 0) {
      res.set('WWW-Authenticate', 'Bearer realm="spillway", error="invalid_token"');
      throw new ApiError(401, 'unauthorized', 'the API key is not valid');
    }
    req.principal = offered.subarray(0, 8).toString('hex');
    next();
  };
}
