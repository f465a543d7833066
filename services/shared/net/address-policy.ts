/**
 * Which network addresses a request on a client's behalf (a completion callback) may reach.
 * Without this, `callbackUrl` lets anyone who can submit a task make a worker POST into the
 * cluster: to Redis, the Kubernetes API, a sidecar, or the cloud metadata service.
 *
 * Every address is compared as 16 bytes: IPv4 as its IPv4-mapped IPv6 form (::ffff:a.b.c.d), so
 * `::ffff:127.0.0.1` is loopback exactly as `127.0.0.1` is. IPv6 forms that embed an IPv4 address
 * another way (IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96) are judged by that IPv4 address.
 */
import { isIP } from 'node:net';
import type { EnvReader } from '../env-reader';

/** What an operator allows despite the rules (CALLBACK_ALLOW_HOSTS, CALLBACK_ALLOW_CIDRS). */
export interface AddressAllowList {
  /** Host names whose every address is allowed; `*.example.internal` allows any subdomain. */
  hosts: readonly string[];
  /** Address ranges allowed, e.g. `10.20.0.0/16` or `127.0.0.1/32`. */
  cidrs: readonly string[];
}

export const NOTHING_ALLOWED: AddressAllowList = Object.freeze({ hosts: [], cidrs: [] });

/** A request was refused because of where it would go; never worth retrying. */
export class BlockedAddressError extends Error {
  readonly code = 'ERR_ADDRESS_BLOCKED';

  constructor(message: string) {
    super(message);
    this.name = 'BlockedAddressError';
  }
}

interface Range {
  bytes: Uint8Array;
  /** Leading bits that must match, out of 128. */
  bits: number;
}

/** Ranges no request goes to unless allowed, with the word an error message uses for each. */
export const BLOCKED: ReadonlyArray<[cidr: string, kind: string]> = [
  ['0.0.0.0/8', 'unspecified'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'shared (CGNAT)'],
  ['127.0.0.0/8', 'loopback'],
  // Includes 169.254.169.254, the metadata service of AWS, GCP, Azure and others.
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  // IETF protocol assignments; Oracle Cloud's metadata service is 192.0.0.192.
  ['192.0.0.0/24', 'special-purpose'],
  ['192.168.0.0/16', 'private'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  // Includes fd00:ec2::254, the metadata service of AWS over IPv6.
  ['fc00::/7', 'private (unique local)'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
];

/** Names that mean this machine or its cloud's metadata service wherever they are resolved. */
const INTERNAL_NAMES = /^(localhost|.+\.localhost|metadata\.google\.internal)$/;

const HOST_PATTERN = /^(\*\.)?[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$/i;

export class AddressPolicy {
  private readonly blocked: Array<Range & { kind: string }>;
  private readonly allowedRanges: Range[];
  private readonly allowedHosts: ReadonlySet<string>;
  private readonly allowedSuffixes: readonly string[];

  constructor(allow: AddressAllowList = NOTHING_ALLOWED) {
    this.blocked = BLOCKED.map(([cidr, kind]) => ({ ...parseCidr(cidr)!, kind }));
    this.allowedRanges = allow.cidrs.map((cidr) => {
      const range = parseCidr(cidr);
      if (!range) throw new Error(`not a CIDR range: ${cidr}`);
      return range;
    });
    const hosts = allow.hosts.map(normalHost);
    this.allowedHosts = new Set(hosts.filter((h) => !h.startsWith('*.')));
    this.allowedSuffixes = hosts.filter((h) => h.startsWith('*.')).map((h) => h.slice(1));
  }

  /** True when the operator allowed this host name: whatever it resolves to may be reached. */
  hostAllowed(hostname: string): boolean {
    const host = normalHost(hostname);
    return this.allowedHosts.has(host) || this.allowedSuffixes.some((suffix) => host.endsWith(suffix));
  }

  /** Why `address` (an IP address) may not be connected to, or undefined when it may. */
  refusal(address: string): string | undefined {
    const bytes = parseIp(address);
    if (!bytes) return `"${address}" is not an IP address`;
    const judged = embeddedIpv4(bytes) ?? bytes;
    if (this.allowedRanges.some((range) => inRange(judged, range))) return undefined;
    const hit = this.blocked.find((range) => inRange(judged, range));
    return hit && `${address} is a ${hit.kind} address`;
  }

  /**
   * What can be known about a URL's host without resolving it: an IP literal that is refused, or
   * a name that always means this machine. The API checks this at submission; the worker checks
   * every resolved address when it connects, which is the check that counts.
   */
  hostRefusal(hostname: string): string | undefined {
    const host = normalHost(hostname);
    if (this.hostAllowed(host)) return undefined;
    if (isIP(host) !== 0) return this.refusal(host);
    if (INTERNAL_NAMES.test(host)) return `${host} is an internal host name`;
    return undefined;
  }
}

/** Reads CALLBACK_ALLOW_HOSTS and CALLBACK_ALLOW_CIDRS (comma-separated; none by default). */
export function readCallbackAllowList(reader: EnvReader): AddressAllowList {
  return {
    hosts: reader.list('CALLBACK_ALLOW_HOSTS', {
      re: HOST_PATTERN,
      hint: 'host names, optionally starting with "*." for any subdomain',
    }),
    cidrs: reader.list('CALLBACK_ALLOW_CIDRS', {
      re: { test: (item: string) => parseCidr(item) !== undefined },
      hint: 'CIDR ranges such as 10.0.0.0/8 or fd00::/8',
    }),
  };
}

/** Lower case, no brackets around IPv6, no trailing dot (`localhost.` is `localhost`). */
function normalHost(hostname: string): string {
  return hostname
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
}

/** `a.b.c.d/n` or `x::y/n`; a bare address is a single-address range. */
export function parseCidr(text: string): Range | undefined {
  const [address, prefix, extra] = text.trim().split('/');
  if (address === undefined || extra !== undefined) return undefined;
  const bytes = parseIp(address);
  if (!bytes) return undefined;
  const v4 = isIP(address) === 4;
  const max = v4 ? 32 : 128;
  if (prefix !== undefined && !/^\d{1,3}$/.test(prefix)) return undefined;
  const length = prefix === undefined ? max : Number(prefix);
  if (length > max) return undefined;
  return { bytes, bits: v4 ? length + 96 : length };
}

/** 16 bytes for an IPv4 or IPv6 address (IPv4 mapped into IPv6), or undefined for anything else. */
export function parseIp(text: string): Uint8Array | undefined {
  // A zone index (fe80::1%eth0) names an interface, not a different address.
  const address = text.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  const bytes = new Uint8Array(16);
  switch (isIP(address)) {
    case 4:
      bytes[10] = bytes[11] = 0xff;
      address.split('.').forEach((octet, i) => (bytes[12 + i] = Number(octet)));
      return bytes;
    case 6: {
      const [head = '', tail] = address.split('::');
      const groups = (part: string | undefined) => (part ? part.split(':').flatMap(hexGroups) : []);
      const front = groups(head);
      const back = groups(tail);
      const words = [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
      words.forEach((word, i) => {
        bytes[2 * i] = word >> 8;
        bytes[2 * i + 1] = word & 0xff;
      });
      return bytes;
    }
    default:
      return undefined;
  }
}

/** One colon-separated group as 16-bit words; a trailing dotted IPv4 part is two of them. */
function hexGroups(group: string): number[] {
  if (!group.includes('.')) return [parseInt(group, 16)];
  const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number];
  return [(a << 8) | b, (c << 8) | d];
}

const NAT64_PREFIX = [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0];

/** The IPv4-mapped form of an IPv4 address embedded as IPv4-compatible or NAT64, if any. */
function embeddedIpv4(bytes: Uint8Array): Uint8Array | undefined {
  const head = Array.from(bytes.subarray(0, 12));
  const compatible = head.every((b) => b === 0) && (bytes[12]! | bytes[13]! | bytes[14]!) !== 0;
  const nat64 = head.every((b, i) => b === NAT64_PREFIX[i]);
  if (!compatible && !nat64) return undefined;
  const mapped = new Uint8Array(16);
  mapped[10] = mapped[11] = 0xff;
  mapped.set(bytes.subarray(12), 12);
  return mapped;
}

function inRange(bytes: Uint8Array, range: Range): boolean {
  const whole = range.bits >> 3;
  for (let i = 0; i < whole; i++) if (bytes[i] !== range.bytes[i]) return false;
  const rest = range.bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (bytes[whole]! & mask) === (range.bytes[whole]! & mask);
}
