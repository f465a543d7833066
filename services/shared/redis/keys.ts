import { createHash } from 'node:crypto';

/** The only place Redis key and channel names are built; every name of a queue shares one prefix. */
export class RedisKeys {
  readonly prefix: string;

  constructor(queue: string) {
    this.prefix = `spillway:${queue}:`;
  }

  /** Hash holding one task record. */
  task(id: string): string {
    return `${this.prefix}task:${id}`;
  }

  /** Hash: status → number of tasks in it (finished statuses: how many ever ended so). */
  counts(): string {
    return `${this.prefix}counts`;
  }

  /** Hash: tenant → tasks it may run at once across the fleet (its max-running); the API writes it. */
  tenantMaxRunning(): string {
    return `${this.prefix}tenant-max-running`;
  }

  /** Sorted set of the leases of one tenant's running tasks, scored by when each lapses. */
  tenantRunning(tenant: string): string {
    return `${this.prefix}tenant-running:${tenant}`;
  }

  /** Hash of unfinished tasks (queued, scheduled, running, retrying) per tenant: max-queued's count. */
  openByTenant(): string {
    return `${this.prefix}open-by-tenant`;
  }

  /**
   * Sorted set of the unfinished tasks of one ordering key (`pin`: `<tenant>/<key>`), scored by
   * when each entry lapses; while it has any, the key's tasks go to the lane in keyLane(pin).
   * The transition script finds keyLane's name from this one: keep the two in step.
   */
  pinnedTasks(pin: string): string {
    return `${this.prefix}key-open:${pin}`;
  }

  /** String: the lane an ordering key's unfinished tasks wait in (see pinnedTasks). */
  keyLane(pin: string): string {
    return `${this.prefix}key-lane:${pin}`;
  }

  /** Hash holding one tenant's spill allowance bucket (tokens, last refill): beyond it, overflow. */
  spillAllowance(tenant: string): string {
    return `${this.prefix}spill:${tenant}`;
  }

  /** Sorted set of tasks that are due and not started, scored by when they became due. */
  waiting(): string {
    return `${this.prefix}waiting`;
  }

  /** Pub/sub channel announcing that a task finished (long-polls wait on it). */
  finishedChannel(id: string): string {
    return `${this.prefix}finished:${id}`;
  }

  /** Pub/sub channel on which workers hear that a running task was cancelled. */
  cancelChannel(): string {
    return `${this.prefix}cancel`;
  }

  /**
   * Hash of the paused scopes (pause-store.ts): field `queue` for the whole queue, `type:<name>`
   * for one task type; the value is when it was paused (epoch ms).
   */
  paused(): string {
    return `${this.prefix}paused`;
  }

  /** Pub/sub channel on which workers hear that the paused scopes changed (they read paused() again). */
  pauseChannel(): string {
    return `${this.prefix}pause`;
  }

  /** Stream of completion callbacks waiting for delivery (the outbox; entries leave once settled). */
  callbackOutbox(): string {
    return `${this.prefix}callback-outbox`;
  }

  // A batch's keys: batch-script.ts builds the same names inside Redis; keep the two in step.

  /** Hash: a batch's owner, options, times and counts (services/shared/batches). */
  batch(id: string): string {
    return `${this.prefix}batch:${id}`;
  }

  /** Set of a batch's child task ids: a child published twice is counted once. */
  batchMembers(id: string): string {
    return `${this.prefix}batch-members:${id}`;
  }

  /** Sorted set of a batch's children that failed or were cancelled, scored by when. */
  batchUnsuccessful(id: string): string {
    return `${this.prefix}batch-unsuccessful:${id}`;
  }

  /** Stream of completed batches with work left for a worker: an onComplete task, a waiting parent. */
  batchCompletions(): string {
    return `${this.prefix}batch-completions`;
  }

  /** Counter of batches created and not completed (the batches_open gauge). */
  batchesOpen(): string {
    return `${this.prefix}batches-open`;
  }

  /** Pub/sub channel announcing that a batch completed (long-polls wait on it). */
  batchFinishedChannel(id: string): string {
    return this.finishedChannel(`batch:${id}`);
  }

  /**
   * Sorted set of dead-lettered ids, scored by when they died (newest last): every one, or, with
   * `tenant`, that tenant's only (a poison message has no tenant: it is in the first alone).
   */
  deadLetters(tenant?: string): string {
    return tenant === undefined
      ? `${this.prefix}dead-letters`
      : `${this.prefix}dead-letters:tenant:${tenant}`;
  }

  /** String holding one DeadLetter as JSON. */
  deadLetter(id: string): string {
    return `${this.prefix}dead-letter:${id}`;
  }

  /**
   * Sorted set of discarded dead letters' ids, scored by when they died (trimmed as the index is):
   * a rebuild from the dead-letter topic does not bring them back.
   */
  discardedDeadLetters(): string {
    return `${this.prefix}dead-letters-discarded`;
  }

  /** Hash holding one submitter's token bucket (tokens, last refill); `subject` is a principal or an address. */
  rateLimit(subject: string): string {
    return `${this.prefix}rate-limit:${subject}`;
  }

  /** Hash holding an Idempotency-Key's state; the client's key is hashed to bound its length. */
  idempotency(scope: string, clientKey: string): string {
    const digest = createHash('sha256').update(clientKey).digest('hex');
    // Not "idempotency:", where earlier versions kept a string: an upgrade never meets the old type.
    return `${this.prefix}idempotency-claim:${scope}:${digest}`;
  }

  // The listing's indexes, totals and events: index-script.ts builds the same names inside Redis;
  // keep the two in step.

  /** Sorted set of every task id, scored by createdAt (epoch ms). */
  tasksByCreation(): string {
    return `${this.prefix}idx:created`;
  }

  /** Sorted set of the ids of one status's tasks, scored by createdAt. */
  tasksByStatus(status: string): string {
    return `${this.prefix}idx:status:${status}`;
  }

  /** Sorted set of the ids of one type's tasks, scored by createdAt. */
  tasksByType(type: string): string {
    return `${this.prefix}idx:type:${type}`;
  }

  /** Sorted set of the ids of one tenant's tasks, scored by createdAt. */
  tasksByTenant(tenant: string): string {
    return `${this.prefix}idx:tenant:${tenant}`;
  }

  /** Set of the names of the type and tenant indexes that exist (the sweeper's list). */
  taskIndexNames(): string {
    return `${this.prefix}idx:names`;
  }

  /** Hash: index name → the createdAt the sweeper reached in it (task-index.ts). */
  taskIndexSweep(): string {
    return `${this.prefix}idx:sweep`;
  }

  /** String naming the API process sweeping the indexes now, with an expiry. */
  taskIndexSweepLease(): string {
    return `${this.prefix}idx:sweep-lease`;
  }

  /** Hash of counters since the queue began: submitted, started. */
  totals(): string {
    return `${this.prefix}totals`;
  }

  /** Pub/sub channel of every change of status (task-events.ts). */
  taskEvents(): string {
    return `${this.prefix}task-events`;
  }

  // Schedules (schedule-store.ts): no TTL on any of them, they live until deleted.

  /** Hash of one schedule: its definition (JSON), cursor, revision and last fired tick. */
  schedule(id: string): string {
    return `${this.prefix}schedule:${id}`;
  }

  /** Sorted set of schedule ids, scored by creation: every one, or, with `tenant`, that tenant's. */
  schedules(tenant?: string): string {
    return tenant === undefined ? `${this.prefix}schedules` : `${this.prefix}schedules:tenant:${tenant}`;
  }

  /** Sorted set of the active schedules' ids, scored by their next tick (epoch ms): what firers poll. */
  schedulesDue(): string {
    return `${this.prefix}schedules-due`;
  }

  /** String naming the worker firing one schedule now, with an expiry (see ScheduleFirer). */
  scheduleLease(id: string): string {
    return `${this.prefix}schedule-lease:${id}`;
  }
}
