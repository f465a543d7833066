import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { MetricsSource } from '../shared/http/probes';
import type { ApiEvents, DeadLetterActionOutcome, EnqueueOutcome } from './events';
import { BoundedLabel } from '../shared/bounded-label';
import type { TaskStore } from '../shared/redis/task-store';
import type { ScheduleState } from '../shared/schedules/schedule';
import type { LiveEvents } from './live/task-event-hub';

/** Tenants with a label of their own; the rest are counted as "other". */
const TENANT_LABELS = 100;

/** The API's Prometheus metrics, all named spillway_*; one registry per app instance. */
export class ApiMetrics implements ApiEvents, LiveEvents, MetricsSource {
  private readonly registry = new Registry();
  private readonly taskType: BoundedLabel;
  /** Tenants come from the keys file, not from clients: bounded anyway, in case it lists thousands. */
  private readonly tenant = new BoundedLabel(TENANT_LABELS);
  readonly contentType = this.registry.contentType;

  private readonly httpRequests = new Counter({
    name: 'spillway_http_requests_total',
    help: 'HTTP requests by method, route template and status code.',
    labelNames: ['method', 'route', 'status'],
    registers: [this.registry],
  });
  private readonly httpDuration = new Histogram({
    name: 'spillway_http_request_duration_seconds',
    help: 'HTTP request duration by method and route template.',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  private readonly enqueued = new Counter({
    name: 'spillway_tasks_enqueued_total',
    help: 'Task submissions by task type, outcome (accepted, invalid, unavailable) and tenant.',
    labelNames: ['type', 'outcome', 'tenant'],
    registers: [this.registry],
  });
  private readonly enqueueDuration = new Histogram({
    name: 'spillway_enqueue_duration_seconds',
    help: 'Time from a valid submission to Kafka acknowledging it and its record being written.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  private readonly rateLimitedRequests = new Counter({
    name: 'spillway_rate_limited_total',
    help: 'Submissions refused with 429 because their tenant (or client address) was over its rate, by tenant.',
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  private readonly tenantQueueFullRequests = new Counter({
    name: 'spillway_tenant_queue_full_total',
    help: 'Submissions refused with 429 because their tenant had its maximum queued, by tenant.',
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  private readonly backlogCheckFailures = new Counter({
    name: 'spillway_tenant_backlog_check_failed_open_total',
    help: 'Submissions let through unchecked because Redis did not answer the tenant backlog check.',
    registers: [this.registry],
  });
  private readonly spilledTasks = new Counter({
    name: 'spillway_tasks_spilled_total',
    help: 'Tasks sent to the overflow lane because their tenant was over its spill allowance, by tenant.',
    labelNames: ['tenant'],
    registers: [this.registry],
  });
  private readonly laneChoiceFailures = new Counter({
    name: 'spillway_lane_choice_failed_open_total',
    help: "Submissions whose lanes were not chosen because Redis did not answer: their priority's lanes, no spill, keys not kept in their lanes.",
    registers: [this.registry],
  });
  private readonly deadLetterActions = new Counter({
    name: 'spillway_dead_letters_actions_total',
    help: 'Dead letters replayed or discarded through the API, one by one or in bulk, by action (replay, discard) and what became of each (replayed, already_replayed, not_replayable, in_progress, failed, discarded).',
    labelNames: ['action', 'outcome'],
    registers: [this.registry],
  });
  private readonly rateLimiterFailures = new Counter({
    name: 'spillway_rate_limiter_failed_open_total',
    help: 'Submissions let through unchecked because Redis did not answer the rate limiter.',
    registers: [this.registry],
  });

  private readonly eventStreams = new Gauge({
    name: 'spillway_events_clients',
    help: 'GET /v1/events streams open on this API process.',
    registers: [this.registry],
  });
  private readonly eventStreamsDropped = new Counter({
    name: 'spillway_events_clients_dropped_total',
    help: 'GET /v1/events streams cut because their client left more than EVENTS_MAX_UNSENT_BYTES unread.',
    registers: [this.registry],
  });

  private readonly kafkaBatch = new Histogram({
    name: 'spillway_kafka_send_batch_size',
    help: 'Messages per Kafka request: concurrent submissions are coalesced into shared sends.',
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500],
    registers: [this.registry],
  });
  private readonly kafkaSendDuration = new Histogram({
    name: 'spillway_kafka_send_duration_seconds',
    help: 'Time for Kafka to acknowledge one coalesced send, by outcome (ok, error).',
    labelNames: ['outcome'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  constructor(
    source: Pick<TaskStore, 'oldestWaitingSince' | 'memoryUse' | 'openTasksByTenant'>,
    /** TASK_TYPES: with an allow-list only its types get a label of their own (see BoundedLabel). */
    knownTypes: readonly string[] = [],
  ) {
    this.taskType = new BoundedLabel(100, knownTypes.length > 0 ? new Set(knownTypes) : undefined);
    // Read from Redis at scrape, by every API pod alike: alerts take the max over pods. The
    // registry collects its gauges together, so both share one INFO.
    let reading: ReturnType<typeof source.memoryUse> | undefined;
    const memory = () => (reading ??= source.memoryUse().finally(() => (reading = undefined)));
    const gauges = [
      ['spillway_redis_used_memory_bytes', "Redis' used_memory.", 'usedBytes'],
      [
        'spillway_redis_maxmemory_bytes',
        "Redis' maxmemory (0: no limit); at it, Redis refuses writes.",
        'maxBytes',
      ],
    ] as const;
    for (const [name, help, field] of gauges) {
      new Gauge({
        name,
        help: `${help} Read from Redis at scrape.`,
        registers: [this.registry],
        async collect() {
          try {
            this.set((await memory())[field]);
          } catch {
            // Redis unreachable: keep the last value.
          }
        },
      });
    }
    new Gauge({
      name: 'spillway_oldest_waiting_task_age_seconds',
      help: 'Age of the oldest task that is due and not yet started (0 when none waits); read from Redis at scrape.',
      registers: [this.registry],
      async collect() {
        try {
          const since = await source.oldestWaitingSince();
          this.set(since ? Math.max(0, (Date.now() - since.getTime()) / 1000) : 0);
        } catch {
          // Redis unreachable: keep the last value; /readyz and the error rate say what is wrong.
        }
      },
    });
    const tenant = this.tenant;
    new Gauge({
      name: 'spillway_tenant_open_tasks',
      help: "Each tenant's unfinished tasks (queued, scheduled, running, retrying), what max-queued limits; read from Redis at scrape.",
      labelNames: ['tenant'],
      registers: [this.registry],
      async collect() {
        try {
          const open = await source.openTasksByTenant();
          this.reset();
          for (const [name, count] of open) this.inc({ tenant: tenant.of(name) }, count);
        } catch {
          // Redis unreachable: keep the last values.
        }
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: 'spillway_api_' });
  }

  /** spillway_batches_open, read at scrape from the counter the batches' scripts keep. */
  countBatchesFrom(source: { openCount(): Promise<number> }): void {
    new Gauge({
      name: 'spillway_batches_open',
      help: 'Batches created and not yet completed (sealed or not); read from Redis at scrape.',
      registers: [this.registry],
      async collect() {
        try {
          this.set(await source.openCount());
        } catch {
          // Redis unreachable: keep the last value.
        }
      },
    });
  }

  /** spillway_schedules by state, read at scrape: how many schedules the workers fire, how many are paused. */
  countSchedulesFrom(source: { countByState(): Promise<Record<ScheduleState, number>> }): void {
    new Gauge({
      name: 'spillway_schedules',
      help: 'Recurring schedules by state (active, paused); read from Redis at scrape.',
      labelNames: ['state'],
      registers: [this.registry],
      async collect() {
        try {
          for (const [state, count] of Object.entries(await source.countByState()))
            this.set({ state }, count);
        } catch {
          // Redis unreachable: keep the last values.
        }
      },
    });
  }

  httpRequest(method: string, route: string, status: number, seconds: number): void {
    this.httpRequests.inc({ method, route, status: String(status) });
    this.httpDuration.observe({ method, route }, seconds);
  }

  tasksEnqueued(type: string, outcome: EnqueueOutcome, count: number, tenant: string): void {
    this.enqueued.inc({ type: this.taskType.of(type), outcome, tenant: this.tenant.of(tenant) }, count);
  }

  enqueueLatency(seconds: number): void {
    this.enqueueDuration.observe(seconds);
  }

  rateLimited(tenant: string): void {
    this.rateLimitedRequests.inc({ tenant: this.tenant.of(tenant) });
  }

  tenantQueueFull(tenant: string): void {
    this.tenantQueueFullRequests.inc({ tenant: this.tenant.of(tenant) });
  }

  backlogCheckFailedOpen(): void {
    this.backlogCheckFailures.inc();
  }

  tasksSpilled(tenant: string, count: number): void {
    this.spilledTasks.inc({ tenant: this.tenant.of(tenant) }, count);
  }

  laneChoiceFailedOpen(): void {
    this.laneChoiceFailures.inc();
  }

  rateLimiterFailedOpen(): void {
    this.rateLimiterFailures.inc();
  }

  deadLettersActedOn(action: 'replay' | 'discard', outcome: DeadLetterActionOutcome, count: number): void {
    if (count > 0) this.deadLetterActions.inc({ action, outcome }, count);
  }

  liveClients(open: number): void {
    this.eventStreams.set(open);
  }

  liveClientDropped(): void {
    this.eventStreamsDropped.inc();
  }

  batchSent(messages: number, seconds: number, ok: boolean): void {
    this.kafkaBatch.observe(messages);
    this.kafkaSendDuration.observe({ outcome: ok ? 'ok' : 'error' }, seconds);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
