import type { BatchEvents } from './batches/completions';
import type { LaneName } from '../shared/lanes/priority';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { BoundedLabel } from '../shared/bounded-label';
import type { DeadLetterReason } from '../shared/dead-letter';
import type { MetricsSource } from '../shared/http/probes';
import type { CallbackEvents } from './callbacks';
import type { SchedulerEvents, TaskOutcome, WorkerEvents } from './events';
import type { PauseEvents } from './pause-gate';

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** The worker's Prometheus metrics, all named spillway_*; one registry per worker instance. */
export class WorkerMetrics
  implements BatchEvents, WorkerEvents, SchedulerEvents, CallbackEvents, MetricsSource, PauseEvents
{
  private readonly registry = new Registry();
  private readonly taskType: BoundedLabel;
  /** Tenants come from the API's keys file through the messages; bounded all the same. */
  private readonly tenant = new BoundedLabel(100);
  readonly contentType = this.registry.contentType;

  private readonly queueWait = new Histogram({
    name: 'spillway_task_queue_wait_seconds',
    help: 'Time from the API accepting a task to a worker starting it, by task type.',
    labelNames: ['type'],
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly tenantQueueWait = new Histogram({
    name: 'spillway_tenant_queue_wait_seconds',
    help: 'Time from the API accepting a task to a worker starting it, by tenant: fairness under a burst.',
    labelNames: ['tenant'],
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly tenantLimitWaits = new Counter({
    name: 'spillway_tenant_running_limit_waits_total',
    help: 'Tasks that waited because their tenant ran its max-running across the fleet, by tenant.',
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  private readonly tenantLimitFailures = new Counter({
    name: 'spillway_tenant_running_limit_failed_open_total',
    help: 'Tasks run without a running-limit check because Redis did not answer it.',
    registers: [this.registry],
  });
  private readonly batchCompletion = new Histogram({
    name: 'spillway_batch_completion_seconds',
    help: 'Time from a batch created to its last child terminal, for batches completed (counted by the worker that handled the completion).',
    buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400],
    registers: [this.registry],
  });
  private readonly batchChildren = new Histogram({
    name: 'spillway_batch_children',
    help: 'Children per completed batch.',
    buckets: [1, 10, 100, 1000, 10_000, 100_000, 1_000_000],
    registers: [this.registry],
  });
  private readonly processing = new Histogram({
    name: 'spillway_task_processing_seconds',
    help: 'Handler run time by task type and outcome.',
    labelNames: ['type', 'outcome'],
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly processed = new Counter({
    name: 'spillway_tasks_processed_total',
    help: 'Attempts ended on this worker, by task type, outcome (succeeded, failed, cancelled, interrupted) and tenant.',
    labelNames: ['type', 'outcome', 'tenant'],
    registers: [this.registry],
  });
  private readonly inFlight = new Gauge({
    name: 'spillway_tasks_in_flight',
    help: 'Tasks whose handler is running now.',
    registers: [this.registry],
  });
  private readonly duplicates = new Counter({
    name: 'spillway_task_duplicates_skipped_total',
    help: 'Deliveries of tasks that had already finished, recognised and not run again.',
    labelNames: ['type'],
    registers: [this.registry],
  });
  private readonly held = new Counter({
    name: 'spillway_task_deliveries_held_elsewhere_total',
    help: 'Deliveries of an attempt another worker was still running (its partition moved in a rebalance): waited for, not run twice.',
    labelNames: ['type'],
    registers: [this.registry],
  });
  private readonly poison = new Counter({
    name: 'spillway_poison_messages_total',
    help: 'Messages on the tasks topic that are not task messages.',
    registers: [this.registry],
  });
  private readonly released = new Counter({
    name: 'spillway_scheduler_released_total',
    help: 'Delayed tasks the scheduler moved from a delay tier to the tasks topic.',
    registers: [this.registry],
  });
  private readonly redelayed = new Counter({
    name: 'spillway_scheduler_redelayed_total',
    help: 'Delayed tasks the scheduler moved to a shorter delay tier, not due yet.',
    registers: [this.registry],
  });
  private readonly schedulerPoison = new Counter({
    name: 'spillway_scheduler_poison_messages_total',
    help: 'Messages on the delay tier topics that are not delayed tasks, skipped.',
    registers: [this.registry],
  });

  private readonly retries = new Counter({
    name: 'spillway_task_retries_total',
    help: 'Failed attempts scheduled to run again, by task type.',
    labelNames: ['type'],
    registers: [this.registry],
  });
  private readonly deadLetters = new Counter({
    name: 'spillway_dead_letters_total',
    help: 'Tasks given up on, by reason (attempts-exhausted, non-retriable, unknown-type, poison).',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  private readonly abandoned = new Counter({
    name: 'spillway_handlers_abandoned_total',
    help: 'Handlers that ignored their aborted signal (timeout, cancellation, shutdown) and were left running.',
    labelNames: ['type'],
    registers: [this.registry],
  });
  private readonly lag = new Gauge({
    name: 'spillway_consumer_lag',
    help: "Messages on the tasks topics this worker's partitions have not committed, by lane and partition.",
    labelNames: ['lane', 'partition'],
    registers: [this.registry],
  });

  private readonly rebalances = new Histogram({
    name: 'spillway_consumer_rebalance_seconds',
    help: "Rebalances of the workers' consumer group, by how long they stopped this worker's fetching.",
    buckets: [0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60],
    registers: [this.registry],
  });

  private readonly callbacks = new Counter({
    name: 'spillway_callbacks_total',
    help: 'Completion callbacks by outcome (delivered, failed after every attempt).',
    labelNames: ['outcome'],
    registers: [this.registry],
  });

  /** `taskTypes`: those with a handler; only they get a label of their own (others: "other"). */
  constructor(taskTypes?: readonly string[]) {
    this.taskType = new BoundedLabel(100, taskTypes && new Set(taskTypes));
    collectDefaultMetrics({ register: this.registry, prefix: 'spillway_worker_' });
  }

  batchCompleted(seconds: number, children: number): void {
    this.batchCompletion.observe(seconds);
    this.batchChildren.observe(children);
  }

  taskStarted(type: string, tenant: string, queueWaitSeconds: number): void {
    const wait = Math.max(0, queueWaitSeconds);
    this.queueWait.observe({ type: this.taskType.of(type) }, wait);
    this.tenantQueueWait.observe({ tenant: this.tenant.of(tenant) }, wait);
    this.inFlight.inc();
  }

  taskFinished(type: string, tenant: string, outcome: TaskOutcome, seconds: number): void {
    const labels = { type: this.taskType.of(type), outcome };
    this.processing.observe(labels, seconds);
    this.processed.inc({ ...labels, tenant: this.tenant.of(tenant) });
    this.inFlight.dec();
  }

  tenantLimitWait(tenant: string): void {
    this.tenantLimitWaits.inc({ tenant: this.tenant.of(tenant) });
  }

  tenantLimitFailedOpen(): void {
    this.tenantLimitFailures.inc();
  }

  duplicateSkipped(type: string): void {
    this.duplicates.inc({ type: this.taskType.of(type) });
  }

  heldElsewhere(type: string): void {
    this.held.inc({ type: this.taskType.of(type) });
  }

  taskRetried(type: string): void {
    this.retries.inc({ type: this.taskType.of(type) });
  }

  deadLettered(reason: DeadLetterReason): void {
    this.deadLetters.inc({ reason });
  }

  handlerAbandoned(type: string): void {
    this.abandoned.inc({ type: this.taskType.of(type) });
  }

  partitionLag(lane: LaneName, partition: number, lag: number): void {
    this.lag.set({ lane, partition: String(partition) }, Math.max(0, lag));
  }

  rebalanced(seconds: number): void {
    this.rebalances.observe(seconds);
  }

  // Pause and resume (pause-gate.ts: PauseEvents).
  private readonly paused = new Gauge({
    name: 'spillway_worker_paused_scopes',
    help: 'Scopes paused as this worker knows it (POST /v1/queue/pause): the whole queue (0 or 1) and task types.',
    labelNames: ['scope'],
    registers: [this.registry],
  });
  private readonly heldByPause = new Gauge({
    name: 'spillway_worker_tasks_held_by_pause',
    help: 'Tasks taken from Kafka and held here, not started, because the queue or their type is paused.',
    registers: [this.registry],
  });

  pausedScopes(queue: number, types: number): void {
    this.paused.set({ scope: 'queue' }, queue);
    this.paused.set({ scope: 'type' }, types);
  }

  tasksHeldByPause(count: number): void {
    this.heldByPause.set(count);
  }

  callbackDelivered(): void {
    this.callbacks.inc({ outcome: 'delivered' });
  }

  callbackFailed(): void {
    this.callbacks.inc({ outcome: 'failed' });
  }

  poisonMessage(): void {
    this.poison.inc();
  }

  tasksReleased(count: number): void {
    this.released.inc(count);
  }

  tasksRedelayed(count: number): void {
    this.redelayed.inc(count);
  }

  schedulerPoisonMessage(): void {
    this.schedulerPoison.inc();
  }

  // Recurring schedules (schedules/firer.ts: ScheduleEvents).
  private readonly scheduleTicksFired = new Counter({
    name: 'spillway_schedule_ticks_fired_total',
    help: 'Schedule ticks this worker published as tasks (a tick two firers published counts twice; it runs once).',
    registers: [this.registry],
  });
  private readonly scheduleTicksSkipped = new Counter({
    name: 'spillway_schedule_ticks_skipped_total',
    help: "Missed schedule ticks dropped by their schedule's policy (skip, or catch-up beyond its bound).",
    registers: [this.registry],
  });

  ticksFired(count: number): void {
    this.scheduleTicksFired.inc(count);
  }

  ticksSkipped(count: number): void {
    this.scheduleTicksSkipped.inc(count);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
