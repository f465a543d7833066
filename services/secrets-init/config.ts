import { ConfigError, EnvReader } from '../shared/env-reader';
import { LOG_LEVELS, type LogLevel } from '../shared/logger';

/** One Secret the generator owns: its name, the key holding the value, and how long a value it makes. */
export interface SecretSpec {
  name: string;
  key: string;
  /** Characters of a generated value (alphanumeric: it goes into REDIS_URL unescaped). */
  length: number;
  /** Labels a Secret it creates gets (the chart passes its own, as on every object it renders). */
  labels: Readonly<Record<string, string>>;
}

/** `ensure`: create what is missing, never change a value. `remove`: delete what it made (uninstall). */
export const ACTIONS = ['ensure', 'remove'] as const;
export type Action = (typeof ACTIONS)[number];

export interface SecretsInitConfig {
  /** SECRETS_INIT_ACTION, default ensure. */
  action: Action;
  /** SECRETS_INIT_NAMESPACE: where the Secrets live (the chart passes the pod's own). Required. */
  namespace: string;
  /** SECRETS_INIT_SECRETS: a JSON array of {name, key, length, labels}. Required, at least one. */
  secrets: readonly SecretSpec[];
  /** SECRETS_INIT_TIMEOUT_MS: longest wait for one answer of the API server (default 10 s). */
  timeoutMs: number;
  /** LOG_LEVEL, default info. */
  logLevel: LogLevel;
}

/** 16 to 256: what the API accepts as a key (API_KEYS in services/api/config.ts). */
export const MIN_LENGTH = 16;
export const MAX_LENGTH = 256;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
/** What Kubernetes allows as a key of a Secret's data. */
const SECRET_KEY = /^[-._a-zA-Z0-9]{1,253}$/;
/** A label key, with its optional DNS prefix; and a label value (63 characters, may be empty). */
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

export function loadSecretsInitConfig(env: Readonly<Record<string, string | undefined>>): SecretsInitConfig {
  const reader = new EnvReader(env);
  const action = reader.oneOf('SECRETS_INIT_ACTION', 'ensure', ACTIONS);
  const namespace = reader.string('SECRETS_INIT_NAMESPACE', '', {
    re: DNS_SUBDOMAIN,
    hint: 'a namespace name',
  });
  const secretsJson = reader.required('SECRETS_INIT_SECRETS', 'the Secrets to make, as JSON');
  const timeoutMs = reader.int('SECRETS_INIT_TIMEOUT_MS', 10_000, { min: 100, max: 300_000 });
  const logLevel = reader.oneOf('LOG_LEVEL', 'info', LOG_LEVELS);

  const problems: string[] = [];
  if (!namespace) problems.push('SECRETS_INIT_NAMESPACE is not set: the namespace of the Secrets');
  const secrets = secretsJson ? readSpecs(secretsJson, problems) : [];
  try {
    reader.finish();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.unshift(...err.problems);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({ action, namespace, secrets, timeoutMs, logLevel });
}

/** SECRETS_INIT_SECRETS, checked entry by entry; every fault goes to `problems`. */
function readSpecs(json: string, problems: string[]): SecretSpec[] {
  const where = 'SECRETS_INIT_SECRETS';
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    problems.push(`${where} is not JSON (${(err as Error).message})`);
    return [];
  }
  if (!Array.isArray(parsed) || parsed.length === 0) {
    problems.push(`${where} must be a non-empty JSON array of {name, key, length, labels}`);
    return [];
  }
  const specs = parsed.map((entry: unknown, i) => readSpec(entry, `${where}[${i}]`, problems));
  const names = specs.map((s) => s.name);
  const repeated = names.filter((name, i) => names.indexOf(name) !== i);
  if (repeated.length > 0) problems.push(`${where} names ${repeated.join(', ')} more than once`);
  return specs;
}

function readSpec(entry: unknown, where: string, problems: string[]): SecretSpec {
  const e = (entry ?? {}) as Partial<Record<keyof SecretSpec, unknown>>;
  const bad = (field: string, expected: string) =>
    problems.push(
      `${where}.${field}=${JSON.stringify(e[field as keyof SecretSpec])} is not valid: expected ${expected}`,
    );
  if (typeof e.name !== 'string' || !DNS_SUBDOMAIN.test(e.name)) bad('name', 'a Secret name');
  if (typeof e.key !== 'string' || !SECRET_KEY.test(e.key)) bad('key', 'a Secret key ([-._a-zA-Z0-9]+)');
  if (!Number.isInteger(e.length) || (e.length as number) < MIN_LENGTH || (e.length as number) > MAX_LENGTH) {
    bad('length', `an integer from ${MIN_LENGTH} to ${MAX_LENGTH}`);
  }
  const labels = (e.labels ?? {}) as Record<string, unknown>;
  const labelsOk =
    typeof labels === 'object' &&
    !Array.isArray(labels) &&
    Object.entries(labels).every(
      ([k, v]) => LABEL_KEY.test(k) && typeof v === 'string' && LABEL_VALUE.test(v),
    );
  if (!labelsOk) bad('labels', 'an object of Kubernetes label keys and values');
  return {
    name: String(e.name),
    key: String(e.key),
    length: Number(e.length),
    labels: labelsOk ? (labels as Record<string, string>) : {},
  };
}
