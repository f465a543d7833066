/**
 * What an API key may do. `admin` is every scope and every tenant: it reads, cancels and replays
 * any tenant's tasks and runs the queue-wide operations (dead-letter rebuild, fleet).
 */
export const SCOPES = [
  'tasks:submit',
  'tasks:read',
  'tasks:cancel',
  'dead-letters:read',
  'dead-letters:replay',
  'admin',
] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/** Every scope: what API_KEYS keys and an API without keys get (no breaking change for them). */
export const ALL_SCOPES: ReadonlySet<Scope> = new Set(SCOPES);

/** Whether `granted` allows `needed`: `admin` allows everything. */
export function allows(granted: ReadonlySet<Scope>, needed: Scope): boolean {
  return granted.has(needed) || granted.has('admin');
}
