import type { Action } from './config';

/**
 * Every Kubernetes call the secrets generator makes, as RBAC sees it, per action: verbs on Secrets
 * it may use on any name (`anyName`) and those limited to the Secrets it was given (`byName`).
 * kube-secret-store.ts makes no other call, and tests/chart checks the chart's hook Roles against
 * this, so the two cannot drift. Kept apart from kube-secret-store.ts so the test need not load
 * @kubernetes/client-node.
 */
export const SECRETS_INIT_PERMISSIONS: Record<
  Action,
  { anyName: readonly string[]; byName: readonly string[] }
> = {
  // A create cannot be limited by resourceNames: the name is in the body, which RBAC does not see.
  ensure: { anyName: ['create'], byName: ['get', 'patch'] },
  remove: { anyName: [], byName: ['get', 'delete'] },
};
