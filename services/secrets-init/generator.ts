import { randomInt } from 'node:crypto';
import type { Logger } from '../shared/logger';
import type { Action, SecretSpec } from './config';

/**
 * The secrets generator: makes, inside the cluster, each Secret the chart would otherwise render
 * with a random value, so that no manifest holds the value and a render that cannot read the
 * cluster (Argo CD's `helm template`) has nothing to rotate (docs/deploy.md#secrets-and-gitops).
 *
 * Invariant: a value that exists is never changed. A create that finds the Secret there (409)
 * keeps it; a Secret without the key gets that key and nothing else; every patch is conditional
 * on the resourceVersion it was computed from, so a concurrent writer is never overwritten.
 */

/** A Secret as read back, with what the decisions need. */
export interface StoredSecret {
  resourceVersion: string;
  /** base64 values by key; absent when the Secret has no data at all. */
  data?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface NewSecret {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** base64 values by key. */
  data: Record<string, string>;
}

/** One JSON Patch (RFC 6902) operation. */
export interface PatchOp {
  op: 'test' | 'add';
  path: string;
  value: unknown;
}

/** The Kubernetes API as the generator uses it, in one namespace (kube-secret-store.ts). */
export interface SecretStore {
  /** The Secret, or undefined when there is none. */
  read(name: string): Promise<StoredSecret | undefined>;
  /** 'exists' when a Secret of that name is already there (409): nothing was written. */
  create(secret: NewSecret): Promise<'created' | 'exists'>;
  /** 'conflict' when the Secret changed since it was read (its test op failed): nothing was written. */
  patch(name: string, ops: PatchOp[]): Promise<'patched' | 'conflict'>;
  /** 'gone' when there was nothing to delete. */
  delete(name: string): Promise<'deleted' | 'gone'>;
}

/** Marks a Secret as the generator's: `remove` deletes no other. */
export const GENERATED_BY = 'spillway.dev/generated-by';
const GENERATOR = 'secrets-init';
/** Set by Helm on what it rendered: such a Secret predates the switch to the generator. */
const HELM_RELEASE = 'meta.helm.sh/release-name';
const HELM_RESOURCE_POLICY = 'helm.sh/resource-policy';

/** Annotations on every Secret the generator creates. */
export const GENERATED_ANNOTATIONS: Readonly<Record<string, string>> = {
  [GENERATED_BY]: GENERATOR,
  // These Secrets are in no manifest, on purpose. Argo CD tracking by label counts any object
  // with the app's instance label as the app's: without these it would show the app OutOfSync
  // and prune the Secrets on a sync with pruning on.
  'argocd.argoproj.io/compare-options': 'IgnoreExtraneous',
  'argocd.argoproj.io/sync-options': 'Prune=false',
};

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A random alphanumeric value; `pick(n)` draws uniformly from 0..n-1 (crypto.randomInt: no modulo bias). */
export function randomAlphanumeric(length: number, pick: (max: number) => number = randomInt): string {
  let value = '';
  for (let i = 0; i < length; i++) value += ALPHANUMERIC[pick(ALPHANUMERIC.length)];
  return value;
}

const b64 = (value: string) => Buffer.from(value).toString('base64');

export function newSecret(spec: SecretSpec, value: string): NewSecret {
  return {
    name: spec.name,
    labels: { ...spec.labels },
    annotations: { ...GENERATED_ANNOTATIONS },
    data: { [spec.key]: b64(value) },
  };
}

/** What completing a Secret adds, for the log: the key, and the marks of a Secret taken over from Helm. */
export type Addition = 'key' | 'keep-policy' | 'mark';

/**
 * What an existing Secret lacks, as a patch that adds (never replaces) it: the key, with a new
 * value; and, for a Secret Helm rendered (generatedSecrets.mode was `render`), Helm's keep policy,
 * so the upgrade that stops rendering it does not delete it, and the generator's mark, so an
 * uninstall removes it as it would have. No operations: nothing to do.
 */
export function completion(
  existing: StoredSecret,
  spec: SecretSpec,
  value: () => string,
): { ops: PatchOp[]; added: Addition[] } {
  const ops: PatchOp[] = [];
  const added: Addition[] = [];
  if (!existing.data) {
    ops.push({ op: 'add', path: '/data', value: { [spec.key]: b64(value()) } });
    added.push('key');
  } else if (!(spec.key in existing.data)) {
    ops.push({ op: 'add', path: `/data/${pointer(spec.key)}`, value: b64(value()) });
    added.push('key');
  }
  // Only a Secret with Helm's annotations is taken over, so the annotations object exists.
  const annotations = existing.annotations ?? {};
  if (HELM_RELEASE in annotations) {
    const marks: [Addition, string, string][] = [
      ['keep-policy', HELM_RESOURCE_POLICY, 'keep'],
      ['mark', GENERATED_BY, GENERATOR],
    ];
    for (const [addition, key, wanted] of marks) {
      if (annotations[key] === wanted) continue;
      // `add` replaces a member that exists: only a keep policy other than "keep" can be one.
      ops.push({ op: 'add', path: `/metadata/annotations/${pointer(key)}`, value: wanted });
      added.push(addition);
    }
  }
  if (ops.length === 0) return { ops, added };
  return {
    ops: [{ op: 'test', path: '/metadata/resourceVersion', value: existing.resourceVersion }, ...ops],
    added,
  };
}

/** A JSON Pointer segment (RFC 6901): annotation keys hold `/`. */
function pointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

export type Outcome = 'created' | 'kept' | 'completed' | 'deleted' | 'absent' | 'not-ours';

/** A Secret that changes under every attempt is someone else's ongoing work: give up and say so. */
const ATTEMPTS = 5;

/** Creates the Secret with a new value unless it exists; completes an existing one, keeping its value. */
export async function ensureSecret(store: SecretStore, spec: SecretSpec, log: Logger): Promise<Outcome> {
  const value = () => randomAlphanumeric(spec.length);
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    // Create first, read only on 409: a create is atomic, so two generators cannot both win.
    if ((await store.create(newSecret(spec, value()))) === 'created') {
      log.info('created the Secret with a new value', { key: spec.key, length: spec.length });
      return 'created';
    }
    const existing = await store.read(spec.name);
    if (!existing) continue; // deleted between the two calls: create again
    const { ops, added } = completion(existing, spec, value);
    if (ops.length === 0) {
      log.info('kept the Secret: it exists with its key, value unchanged', { key: spec.key });
      return 'kept';
    }
    if ((await store.patch(spec.name, ops)) === 'patched') {
      log.info(
        added.includes('key')
          ? 'completed the Secret: added the missing key, other values unchanged'
          : 'took over the Secret Helm rendered before (value unchanged): helm.sh/resource-policy=keep, so this upgrade does not delete it',
        { key: spec.key, added },
      );
      return added.includes('key') ? 'completed' : 'kept';
    }
    log.debug('the Secret changed while being completed: reading it again', { attempt });
  }
  throw new Error(
    `Secret ${spec.name} could not be created or completed in ${ATTEMPTS} attempts: it changed or ` +
      'went after each read (a patch answered 409 or 422), so something else is writing it',
  );
}

/** Deletes the Secret if the generator made (or took over) it; leaves any other of that name. */
export async function removeSecret(store: SecretStore, spec: SecretSpec, log: Logger): Promise<Outcome> {
  const existing = await store.read(spec.name);
  if (!existing) {
    log.info('no Secret to remove');
    return 'absent';
  }
  if (existing.annotations?.[GENERATED_BY] !== GENERATOR) {
    log.warn(`left the Secret: it has no ${GENERATED_BY} annotation, so it is not the generator's`);
    return 'not-ours';
  }
  const deleted = await store.delete(spec.name);
  log.info(deleted === 'deleted' ? 'deleted the Secret' : 'no Secret to remove');
  return deleted === 'deleted' ? 'deleted' : 'absent';
}

/** Runs `action` on every Secret in order; the first failure stops the run (the Job retries it whole). */
export async function runAction(
  action: Action,
  store: SecretStore,
  specs: readonly SecretSpec[],
  logger: Logger,
): Promise<Record<string, Outcome>> {
  const outcomes: Record<string, Outcome> = {};
  for (const spec of specs) {
    const log = logger.child({ secret: spec.name });
    outcomes[spec.name] = await (action === 'ensure' ? ensureSecret : removeSecret)(store, spec, log);
  }
  return outcomes;
}
