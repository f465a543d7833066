/**
 * A fetch-shaped HTTP client that connects only where an AddressPolicy allows. The check is on
 * the address the socket actually connects to: the host name is resolved once, every address it
 * resolves to is checked, and the socket is handed exactly those addresses. Checking a name and
 * then letting fetch resolve it again would let DNS rebinding (a name that answers a public
 * address to the check and 127.0.0.1 to the connection) walk past the check.
 *
 * Redirects are never followed (node:http does not), and only what callbacks use is supported:
 * string bodies, and headers as a plain object or Headers.
 */
import type { LookupAddress, LookupOptions } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { AddressPolicy, BlockedAddressError } from './address-policy';

/** The subset of fetch a caller of guardedFetch relies on. */
export type HttpFetch = (url: URL, init: RequestInit) => Promise<Response>;

/** Bytes of a response body read (and dropped) before the connection is cut instead of reused. */
const MAX_DRAINED_BYTES = 64 * 1024;

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** Resolves a host name to every address it has (dns.lookup with `all`); injectable for tests. */
export type Resolve = (hostname: string, options: LookupOptions) => Promise<LookupAddress[]>;

const systemResolve: Resolve = (hostname, options) => dnsLookup(hostname, { ...options, all: true });

export function guardedFetch(policy: AddressPolicy, resolve: Resolve = systemResolve): HttpFetch {
  // Pooled sockets were each connected through the checked lookup, so reusing one is safe.
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

  const checkedLookup = (hostname: string, options: LookupOptions, callback: LookupCallback) => {
    resolve(hostname, options).then(
      (addresses) => {
        if (!policy.hostAllowed(hostname)) {
          for (const { address } of addresses) {
            const why = policy.refusal(address);
            // One bad address refuses the name: a mix of public and internal answers is no accident.
            if (why) return callback(new BlockedAddressError(`${hostname} resolves to ${why}`), []);
          }
        }
        if (options.all) return callback(null, addresses);
        const [first] = addresses;
        if (!first) {
          const err = Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' });
          return callback(err, []);
        }
        callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, []),
    );
  };

  return (url, init) =>
    new Promise<Response>((resolve, reject) => {
      const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
      // node:net connects to an IP literal without calling lookup: check it here.
      if (isIP(host) !== 0 && !policy.hostAllowed(host)) {
        const why = policy.refusal(host);
        if (why) return reject(new BlockedAddressError(why));
      }
      if (init.body !== undefined && init.body !== null && typeof init.body !== 'string') {
        return reject(new TypeError('guardedFetch sends string bodies only'));
      }
      const body = init.body ?? undefined;
      const headers: Record<string, string> = Object.fromEntries(new Headers(init.headers));
      if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
      const secure = url.protocol === 'https:';
      const req = (secure ? https : http).request(
        {
          protocol: url.protocol,
          hostname: host,
          port: url.port || undefined,
          path: `${url.pathname}${url.search}`,
          method: init.method ?? 'GET',
          headers,
          agent: secure ? agents.https : agents.http,
          lookup: checkedLookup,
          ...(init.signal && { signal: init.signal }),
          ...(url.username && { auth: credentials(url) }),
        },
        (res) => {
          let drained = 0;
          res.on('data', (chunk: Buffer) => {
            drained += chunk.length;
            if (drained > MAX_DRAINED_BYTES) res.destroy();
          });
          res.on('error', () => undefined);
          const status = res.statusCode ?? 0;
          if (status < 200 || status > 599) {
            res.destroy();
            return reject(new Error(`unexpected HTTP status ${status}`));
          }
          const responseHeaders = new Headers();
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
            try {
              responseHeaders.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
            } catch {
              // A header value fetch would refuse: callbacks read only Retry-After.
            }
          }
          resolve(new Response(null, { status, headers: responseHeaders }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
}

/** user:password from the URL, as node:http wants them (decoded). */
function credentials(url: URL): string {
  const decode = (part: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  };
  return `${decode(url.username)}:${decode(url.password)}`;
}
