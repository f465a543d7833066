import { timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { ParamsDictionary } from 'express-serve-static-core';
import { ApiError } from '../shared/errors';
import { keyDigest, type AccessList, type KeyGrant } from '../shared/tenancy/access-file';
import { ALL_SCOPES, allows, SCOPES, type Scope } from '../shared/tenancy/scopes';
import { DEFAULT_TENANT, type Tenant } from '../shared/tenancy/tenant';

/** Who is calling: which key (never the key itself), for which tenant, allowed to do what. */
export interface Caller {
  /** Identifies the caller's key without revealing it; 'anonymous' when auth is off. */
  principal: string;
  tenant: Tenant;
  scopes: ReadonlySet<Scope>;
}

declare module 'express-serve-static-core' {
  interface Request {
    caller: Caller;
  }
}

/** Who a request counts against for long polls: its key, or its address when auth is off. */
export function clientOf(req: Request): string {
  const { principal } = req.caller;
  return principal === 'anonymous' ? `ip:${req.ip ?? 'unknown'}` : `key:${principal}`;
}

/**
 * Whose Idempotency-Keys a request's is checked against: its tenant's (any of the tenant's keys
 * may retry a request another made). The default tenant's stay per key, as they were before
 * tenants: a retry made across the upgrade must find the reply (and task ids) it was given.
 */
export function idempotencyScope(caller: Caller): string {
  return caller.tenant.name === DEFAULT_TENANT ? caller.principal : `tenant:${caller.tenant.name}`;
}

/** Whether the caller may see what belongs to `tenant`: its own tenant's, or anything as admin. */
export function canSee(caller: Caller, tenant: string): boolean {
  return caller.tenant.name === tenant || caller.scopes.has('admin');
}

/** The keys accepted at one moment, with what each may do; a reload of API_KEYS_FILE builds a new ring. */
export class ApiKeyRing {
  private readonly grants: KeyGrant[];
  private readonly tenants: ReadonlyMap<string, Tenant>;

  /** `fixed`: API_KEYS, of the default tenant with every scope; `access`: the keys file. */
  constructor(fixed: Iterable<string>, access?: AccessList) {
    this.tenants = access?.tenants ?? new Map([[DEFAULT_TENANT, { name: DEFAULT_TENANT }]]);
    const fromEnv = [...new Set(fixed)].map((key): KeyGrant => ({
      digest: keyDigest(key),
      tenant: DEFAULT_TENANT,
      scopes: ALL_SCOPES,
    }));
    this.grants = [...fromEnv, ...(access?.keys ?? [])];
  }

  get size(): number {
    return this.grants.length;
  }

  /** Every tenant this ring knows (declared in the keys file, and `default`). */
  tenantList(): Tenant[] {
    return [...this.tenants.values()];
  }

  /**
   * The caller holding `offered`, or undefined when no key matches. Both sides are SHA-256
   * digests (fixed length, so timingSafeEqual applies), and every key is compared without
   * stopping at a match, so timing tells nothing about any key or about how many there are
   * before it. A key in both API_KEYS and the file is API_KEYS'.
   */
  callerOf(offered: string): Caller | undefined {
    const candidate = keyDigest(offered);
    let found: KeyGrant | undefined;
    for (const grant of this.grants) {
      if (timingSafeEqual(grant.digest, candidate) && !found) found = grant;
    }
    if (!found) return undefined;
    return {
      principal: candidate.subarray(0, 8).toString('hex'),
      tenant: this.tenants.get(found.tenant) ?? { name: found.tenant },
      scopes: found.scopes,
    };
  }
}

/** Where the current ring comes from: fixed (API_KEYS), or re-read from API_KEYS_FILE. */
export type KeyRingSource = () => ApiKeyRing;

/** An API without keys: everyone is the default tenant with every scope. */
const ANONYMOUS: Caller = { principal: 'anonymous', tenant: { name: DEFAULT_TENANT }, scopes: ALL_SCOPES };

/**
 * Bearer API keys; `keys` undefined turns auth off. A source whose ring becomes empty refuses
 * everyone: revoking every key must lock the API, never open it. Keys in query strings are never
 * read: they end up in access logs, proxies and browser history.
 */
export function apiKeyAuth(keys: KeyRingSource | undefined): RequestHandler {
  return (req, res, next) => {
    if (!keys) {
      req.caller = ANONYMOUS;
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
    const caller = keys().callerOf(match[1]!);
    if (caller === undefined) {
      res.set('WWW-Authenticate', 'Bearer realm="spillway", error="invalid_token"');
      throw new ApiError(401, 'unauthorized', 'the API key is not valid');
    }
    req.caller = caller;
    next();
  };
}

/** 403 `missing_scope` unless the caller's key has `scope` (or `admin`). */
export function requireScope<Params = ParamsDictionary>(scope: Scope): RequestHandler<Params> {
  return (req, res, next) => {
    if (allows(req.caller.scopes, scope)) return next();
    res.set('WWW-Authenticate', `Bearer realm="spillway", error="insufficient_scope", scope="${scope}"`);
    throw new ApiError(403, 'missing_scope', `this API key lacks the scope "${scope}"`, [
      { field: 'authorization', message: `a key with the scope "${scope}" (scopes: ${SCOPES.join(', ')})` },
    ]);
  };
}
