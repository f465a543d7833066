import { childrenBatchId } from '../../shared/batches/batch';
import { enqueueTasks, type EnqueueDeps } from '../../shared/enqueue-tasks';
import { isPriority, type TaskPriority } from '../../shared/lanes/priority';
import { BatchAdmitRefused, type RedisBatchStore } from '../../shared/redis/batch-store';
import { DEFAULT_MAX_ATTEMPTS, type JsonValue, type TaskMessage } from '../../shared/task';
import { seededTaskId } from '../../shared/task-ids';
import { TASK_LIMITS } from '../../shared/task-limits';
import { tenantOf } from '../../shared/tenancy/tenant';

/** A child task as a handler spawns it. */
export interface SpawnedTask {
  type: string;
  payload?: JsonValue;
  /**
   * What makes this child itself: its id derives from the parent's id and this seed, the same on
   * every attempt of the parent. Default: the child's place among the attempt's spawned children,
   * which is right as long as the handler spawns the same children in the same order each time.
   */
  seed?: string;
  key?: string;
  priority?: TaskPriority;
  maxAttempts?: number;
  timeoutMs?: number;
  delayMs?: number;
}

export interface SpawnOptions {
  /**
   * true: the parent finishes when its children do (status `waiting-children` until then;
   * succeeded if every child succeeded, else failed). false (default): the parent finishes now
   * and its children run on their own, still as one batch.
   */
  wait?: boolean;
}

export interface Spawned {
  batchId: string;
  taskIds: string[];
}

export interface SpawnDeps {
  batches: Pick<RedisBatchStore, 'create' | 'admit' | 'seal' | 'withdraw'>;
  enqueue: EnqueueDeps;
}

/** A spawned child that cannot be a task: the handler's mistake, not worth a retry. */
export class SpawnError extends Error {
  readonly retriable = false;

  constructor(message: string) {
    super(`ctx.spawn: ${message}`);
    this.name = 'SpawnError';
  }
}

/**
 * ctx.spawn for one attempt of one parent task. The children's batch and ids derive from the
 * parent's id (never its attempt), so a retried parent publishes the same children again: a
 * child that ran does not run twice, and the batch counts each once.
 */
export class ChildSpawner {
  private count = 0;
  private waits?: boolean;

  constructor(
    private readonly parent: TaskMessage,
    private readonly deps: SpawnDeps,
  ) {}

  get batchId(): string {
    return childrenBatchId(this.parent.id);
  }

  /** Whether this attempt spawned anything, and whether the parent waits for it. */
  get spawned(): boolean {
    return this.waits !== undefined;
  }

  get waitsForChildren(): boolean {
    return this.waits === true;
  }

  async spawn(tasks: SpawnedTask[], options: SpawnOptions = {}): Promise<Spawned> {
    const wait = options.wait === true;
    if (this.waits !== undefined && this.waits !== wait)
      throw new SpawnError('every call of one attempt must pass the same `wait`');
    const first = this.count;
    const messages = tasks.map((task, i) => this.childMessage(task, first + i));
    if (new Set(messages.map((m) => m.id)).size !== messages.length)
      throw new SpawnError('two children have the same seed');
    this.count += tasks.length;
    this.waits = wait;
    const { parent } = this;
    const tenant = tenantOf(parent);
    await this.deps.batches.create({
      id: this.batchId,
      tenant,
      ...(wait && { parent: parent.id }),
      ...(wait && parent.callbackUrl !== undefined && { parentCallbackUrl: parent.callbackUrl }),
    });
    const ids = messages.map((m) => m.id);
    let admitted: string[];
    try {
      admitted = await this.deps.batches.admit(this.batchId, tenant, ids);
    } catch (err) {
      // Sealed: an earlier attempt of this parent finished spawning, so these are published already.
      if (err instanceof BatchAdmitRefused && err.reason === 'sealed')
        return { batchId: this.batchId, taskIds: ids };
      throw err;
    }
    // Published whether new or not: an earlier attempt may have been counted and died before Kafka got them.
    try {
      await enqueueTasks(this.deps.enqueue, messages);
    } catch (err) {
      // Not all published: the ones this call counted in are counted out again, or a parent that
      // fails for good would leave its batch waiting for children that never come. A retry counts
      // them in again; one that did reach Kafka runs, but counts nowhere (batch-script.ts). Ones
      // an earlier attempt counted stay: they may have run already.
      await this.deps.batches.withdraw(this.batchId, admitted).catch(() => undefined);
      throw err;
    }
    return { batchId: this.batchId, taskIds: ids };
  }

  /**
   * No more children: the batch completes once those spawned are terminal. A later attempt seals
   * what an earlier one spawned, even if it spawned nothing itself.
   */
  async seal(attempt: number): Promise<void> {
    if (this.spawned || attempt > 1) await this.sealSpawned();
  }

  /** Seals the parent's batch of children whichever attempt spawned them (none: nothing to seal). */
  async sealSpawned(): Promise<void> {
    await this.deps.batches.seal(this.batchId);
  }

  private childMessage(task: SpawnedTask, place: number): TaskMessage {
    const where = `child ${place}`;
    if (typeof task.type !== 'string' || task.type === '' || task.type.length > TASK_LIMITS.typeLength)
      throw new SpawnError(`${where}: type must be a string of 1 to ${TASK_LIMITS.typeLength} characters`);
    const maxAttempts = task.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > TASK_LIMITS.maxAttempts)
      throw new SpawnError(`${where}: maxAttempts must be an integer from 1 to ${TASK_LIMITS.maxAttempts}`);
    if (task.priority !== undefined && !isPriority(task.priority))
      throw new SpawnError(`${where}: priority must be high, normal or low`);
    const now = Date.now();
    const message: TaskMessage = {
      id: seededTaskId(this.batchId, task.seed === undefined ? `#${place}` : `seed:${task.seed}`),
      type: task.type,
      payload: task.payload ?? null,
      enqueuedAt: now,
      maxAttempts,
      batch: this.batchId,
      ...(this.parent.tenant !== undefined && { tenant: this.parent.tenant }),
    };
    const optional = {
      key: task.key,
      priority: task.priority === 'normal' ? undefined : task.priority,
      timeoutMs: task.timeoutMs,
      runAt: task.delayMs !== undefined && task.delayMs > 0 ? now + task.delayMs : undefined,
    };
    for (const [name, value] of Object.entries(optional)) {
      if (value !== undefined) Object.assign(message, { [name]: value });
    }
    return message;
  }
}
