import { createHash } from 'node:crypto';
import { ALL_SCOPES, isScope, SCOPES, type Scope } from './scopes';
import { DEFAULT_TENANT, TENANT_NAME_PATTERN, type RateLimit, type Tenant } from './tenant';

/**
 * The API's keys file (API_KEYS_FILE): who may call the API, as which tenant, with which scopes,
 * and each tenant's limits. One entry per line; `#` starts a comment; fields are separated by
 * spaces or tabs (so `#` inside a key is part of it):
 *
 *   tenant <name> [rate=<tasks per second>] [burst=<tasks>] [max-queued=<tasks>] [max-running=<tasks>]
 *          [spill-rate=<tasks per second>] [spill-burst=<tasks>]
 *   key <tenant> <key | sha256:<64 hex digits>> <scope>[,<scope>...]
 *   <key>[,<key>...]
 *
 * The last form is the file as it was before tenants: bare keys of the tenant `default` with
 * every scope. A `key` line's tenant must be declared by a `tenant` line (`default` needs none),
 * so a misspelt tenant is an error rather than a new tenant. docs/tenants.md is the user's guide.
 */

/** 16 to 256 printable ASCII characters: the rule for API_KEYS and for every key in the file. */
export const API_KEY_PATTERN = /^[\x21-\x7e]{16,256}$/;

const DIGEST_PREFIX = 'sha256:';

/** What one key may do; the key itself is kept only as its SHA-256 digest. */
export interface KeyGrant {
  digest: Buffer;
  tenant: string;
  scopes: ReadonlySet<Scope>;
}

export interface AccessList {
  /** Every tenant declared, and `default`. */
  tenants: ReadonlyMap<string, Tenant>;
  keys: KeyGrant[];
}

/** A file with at least one bad line; `problems` name each line, never a key. */
export class AccessFileError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'AccessFileError';
  }
}

export function keyDigest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

/** One file the access list is read from; several are read as one (see parseAccessFiles). */
export interface AccessSource {
  /** Names its lines in errors ("API_TENANTS_FILE line 3"); '' for plain "line 3". */
  name: string;
  text: string;
  /** Only `sha256:` digests, never a key itself (a file that is not a Secret: a ConfigMap). */
  digestsOnly?: boolean;
}

/** Parses the whole file, or throws AccessFileError listing every bad line. */
export function parseAccessFile(text: string): AccessList {
  return parseAccessFiles([{ name: '', text }]);
}

/**
 * Parses files read as one: a tenant declared in one may have its keys in another (the chart's
 * tenants, declared in values, and the keys in a Secret), and a tenant or key twice is an error
 * wherever the two are. Throws AccessFileError listing every bad line of every file.
 */
export function parseAccessFiles(sources: readonly AccessSource[]): AccessList {
  const tenants = new Map<string, Tenant>([[DEFAULT_TENANT, { name: DEFAULT_TENANT }]]);
  const declaredAt = new Map<string, string>();
  const keyLines: { at: Place; fields: string[] }[] = [];
  const bareKeys: { at: Place; key: string }[] = [];
  const problems: { at: Place; message: string }[] = [];
  const fault = (at: Place, err: unknown) => problems.push({ at, message: (err as Error).message });
  sources.forEach((source, file) =>
    source.text.split(/\r?\n/).forEach((raw, index) => {
      const at = placeOf(source, file, index + 1);
      // A key may hold "#", but never a space: a comment starts a line or follows a space.
      const content = raw.replace(/(^|[ \t])#.*$/, '').trim();
      const fields = content.split(/[ \t]+/).filter(Boolean);
      if (fields.length === 0) return;
      try {
        if (fields[0] === 'tenant') {
          const name = fields[1];
          const earlier = name === undefined ? undefined : declaredAt.get(name);
          if (earlier !== undefined) throw new Error(`tenant "${name}" is declared on ${earlier} too`);
          // Declared even if its settings are bad: its keys' lines then report only their own faults.
          if (name !== undefined && TENANT_NAME_PATTERN.test(name)) {
            declaredAt.set(name, at.label);
            tenants.set(name, { name });
          }
          const tenant = parseTenant(fields.slice(1));
          tenants.set(tenant.name, tenant);
        } else if (fields[0] === 'key') {
          keyLines.push({ at, fields: fields.slice(1) });
        } else {
          // As before tenants: keys separated by commas (a space may follow each comma).
          const bare = content.split(/,[ \t]*/).filter(Boolean);
          if (fields.length > bare.length) {
            throw new Error('starts with neither "tenant" nor "key", and is not a list of keys');
          }
          for (const key of bare) bareKeys.push({ at, key });
        }
      } catch (err) {
        fault(at, err);
      }
    }),
  );

  const keys: KeyGrant[] = [];
  const seenAt = new Map<string, string>();
  const addKey = (at: Place, grant: KeyGrant) => {
    const hex = grant.digest.toString('hex');
    const earlier = seenAt.get(hex);
    if (earlier !== undefined) throw new Error(`the same key as ${earlier}`);
    seenAt.set(hex, at.label);
    keys.push(grant);
  };
  for (const { at, key } of bareKeys) {
    try {
      addKey(at, { digest: parseKey(key, at.digestsOnly), tenant: DEFAULT_TENANT, scopes: ALL_SCOPES });
    } catch (err) {
      fault(at, err);
    }
  }
  for (const { at, fields } of keyLines) {
    try {
      addKey(at, parseKeyLine(fields, tenants, at.digestsOnly));
    } catch (err) {
      fault(at, err);
    }
  }
  if (problems.length > 0) {
    // Key lines are checked once every tenant is known: sorted back into the files' order.
    problems.sort((a, b) => a.at.file - b.at.file || a.at.line - b.at.line);
    throw new AccessFileError(problems.map(({ at, message }) => `${at.label}: ${message}`));
  }
  return { tenants, keys };
}

/** Where a line is: its file's place in the list, its number, and how errors name it. */
interface Place {
  file: number;
  line: number;
  label: string;
  digestsOnly: boolean;
}

function placeOf(source: AccessSource, file: number, line: number): Place {
  const label = source.name ? `${source.name} line ${line}` : `line ${line}`;
  return { file, line, label, digestsOnly: source.digestsOnly === true };
}

function parseTenant(fields: string[]): Tenant {
  const [name, ...settings] = fields;
  if (name === undefined) throw new Error('"tenant" needs a name');
  if (!TENANT_NAME_PATTERN.test(name)) {
    throw new Error(`tenant name "${name}" is not 1 to 63 lowercase letters, digits or dashes`);
  }
  const values = new Map<string, string>();
  for (const setting of settings) {
    const match = /^([a-z-]+)=(.*)$/.exec(setting);
    if (!match) throw new Error(`"${setting}" is not a setting (name=value)`);
    const [, key, value] = match as unknown as [string, string, string];
    if (!SETTINGS.includes(key)) throw new Error(`unknown setting "${key}" (known: ${SETTINGS.join(', ')})`);
    if (values.has(key)) throw new Error(`"${key}" is set twice`);
    values.set(key, value);
  }
  const tenant: Tenant = { name };
  const rate = parseRate(values.get('rate'), values.get('burst'), 'rate', 'burst', 1);
  if (rate) tenant.rate = rate;
  // A burst of ten seconds' worth unless set, as TENANT_SPILL_BURST's default.
  const spill = parseRate(
    values.get('spill-rate'),
    values.get('spill-burst'),
    'spill-rate',
    'spill-burst',
    10,
  );
  if (spill) tenant.spill = spill;
  const maxQueued = values.get('max-queued');
  if (maxQueued !== undefined) tenant.maxQueued = wholeNumber('max-queued', maxQueued, 0, 1_000_000_000);
  const maxRunning = values.get('max-running');
  if (maxRunning !== undefined) tenant.maxRunning = wholeNumber('max-running', maxRunning, 0, 1_000_000);
  return tenant;
}

/** The settings a `tenant` line may have. */
const SETTINGS = ['rate', 'burst', 'max-queued', 'max-running', 'spill-rate', 'spill-burst'];

function wholeNumber(name: string, value: string, min: number, max: number): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max))
    throw new Error(`${name} "${value}" is not a whole number from ${min} to ${max}`);
  return n;
}

/**
 * A token bucket's rate and burst (`rate`/`burst`, or `spill-rate`/`spill-burst`). A rate of 0 is
 * no limit (no spill) for this tenant, whatever the API's default says.
 */
function parseRate(
  rate: string | undefined,
  burst: string | undefined,
  rateName: string,
  burstName: string,
  /** The burst when not set: this many seconds' worth. */
  burstSeconds: number,
): RateLimit | undefined {
  if (rate === undefined) {
    if (burst !== undefined) throw new Error(`"${burstName}" needs "${rateName}"`);
    return undefined;
  }
  const perSecond = /^\d+(\.\d+)?$/.test(rate) ? Number(rate) : NaN;
  if (!(perSecond >= 0 && perSecond <= 1_000_000)) {
    throw new Error(`${rateName} "${rate}" is not a number of tasks per second from 0 to 1000000`);
  }
  const size =
    burst === undefined
      ? Math.max(Math.ceil(perSecond * burstSeconds), 1)
      : wholeNumber(burstName, burst, 1, 10_000_000);
  return { perSecond, burst: size };
}

function parseKeyLine(
  fields: string[],
  tenants: ReadonlyMap<string, Tenant>,
  digestsOnly: boolean,
): KeyGrant {
  if (fields.length !== 3) throw new Error('"key" needs a tenant, a key and scopes (comma-separated)');
  const [tenant, key, scopeList] = fields as [string, string, string];
  if (!tenants.has(tenant)) throw new Error(`tenant "${tenant}" is not declared by a "tenant" line`);
  const scopes = new Set<Scope>();
  for (const scope of scopeList.split(',')) {
    if (!isScope(scope)) throw new Error(`unknown scope "${scope}" (known: ${SCOPES.join(', ')})`);
    scopes.add(scope);
  }
  return { digest: parseKey(key, digestsOnly), tenant, scopes };
}

/** A key's digest: given (sha256:<hex>) or computed. Errors never include the key. */
function parseKey(key: string, digestsOnly: boolean): Buffer {
  if (key.startsWith(DIGEST_PREFIX)) {
    const hex = key.slice(DIGEST_PREFIX.length);
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error('a sha256: digest needs 64 hex digits');
    return Buffer.from(hex, 'hex');
  }
  if (digestsOnly)
    throw new Error('keys here must be sha256:<64 hex digits> digests (this file is not a Secret)');
  if (!API_KEY_PATTERN.test(key)) throw new Error('the key is not 16 to 256 printable characters');
  return keyDigest(key);
}
