import express, { type Express } from 'express';
import { probeRouter, type MetricsSource, type ReadinessCheck } from '../shared/http/probes';
import type { KafkaInspector } from '../shared/kafka/inspector';
import type { KafkaNames } from '../shared/kafka/names';
import type { FleetSource } from '../shared/kubernetes/fleet';
import type { Logger } from '../shared/logger';
import { AddressPolicy } from '../shared/net/address-policy';
import type { DeadLetterStore } from '../shared/redis/dead-letter-store';
import type { IdempotencyStore } from '../shared/redis/idempotency-store';
import type { TaskStore } from '../shared/redis/task-store';
import { ApiError } from '../shared/errors';
import { OPERATIONAL_TASK_TYPES } from '../shared/task-types';
import type { RateLimiter } from '../shared/redis/rate-limiter';
import type { TaskWatcher } from '../shared/redis/task-watcher';
import { ApiKeyRing, apiKeyAuth, type KeyRingSource } from './auth';
import type { ApiConfig } from './config';
import type { ApiEvents } from './events';
import type { DeadLetterRebuild } from './dead-letter-rebuild';
import { errorHandler, notFound, requestContext } from './http';
import { DEFAULT_LONG_POLL_LIMITS, LongPolls } from './long-polls';
import { MAX_JSON_DEPTH, nestedDeeperThan } from './json-depth';
import { openApiDocument } from './openapi';
import { SubmissionLimit } from './rate-limit';
import { deadLettersRouter } from './routes/dead-letters';
import { batchesRouter } from './routes/batches';
import { BatchValidator } from './batches/validation';
import type { RedisBatchStore } from '../shared/redis/batch-store';
import { fleetRouter } from './routes/fleet';
import { queueRouter } from './routes/queue';
import type { PauseStore } from '../shared/redis/pause-store';
import { AutoscalerSync } from './autoscaler-sync';
import { statsRouter } from './routes/stats';
import { eventsRouter } from './routes/events';
import type { TaskEventHub } from './live/task-event-hub';
import { tasksRouter } from './routes/tasks';
import { taskSearchRouter } from './routes/task-search';
import type { TaskIndex } from '../shared/redis/task-index';
import type { TaskSubmitter } from './submit';
import { TenantBacklog } from './tenant-backlog';
import { Validator } from './validation';
import type { ScheduleStore } from '../shared/redis/schedule-store';
import { schedulesRouter } from './routes/schedules';
import { ScheduleValidator } from './schedules/validation';
import type { ConsoleAssets } from './console/assets';
import { consoleRouter } from './console/serve';

export interface ApiDeps {
  config: Pick<ApiConfig, 'maxBodyBytes' | 'maxBatchTasks' | 'apiKeys' | 'allowedTypes'> &
    Partial<Pick<ApiConfig, 'callbackAllow' | 'longPolls' | 'rateLimit' | 'tenantMaxQueued'>>;
  /** The keys in force when they can change (API_KEYS_FILE); otherwise config.apiKeys, fixed. */
  keyRing?: KeyRingSource;
  /** Checks submission rates: config.rateLimit's, or a tenant's own; absent: no limit. */
  rateLimiter?: RateLimiter;
  names: KafkaNames;
  store: TaskStore;
  submitter: TaskSubmitter;
  idempotency: IdempotencyStore;
  deadLetters: DeadLetterStore;
  /** Batches: POST /v1/batches and the routes under it. */
  batches: RedisBatchStore;
  /** POST /v1/dead-letters/rebuild; absent: that route is off. */
  rebuild?: DeadLetterRebuild;
  watcher: TaskWatcher;
  /** GET /v1/tasks's indexes; absent (TASK_INDEXES=false): that route answers 404 listing_off. */
  taskIndex?: TaskIndex | undefined;
  inspector: Pick<KafkaInspector, 'lag'>;
  readiness: readonly ReadinessCheck[];
  events: ApiEvents;
  metrics: MetricsSource;
  logger: Logger;
  version: string;
  /** Reads the workers' Deployment, ScaledObject and HPA for GET /v1/fleet; absent: that route is off. */
  fleet?: FleetSource | null;
  /** The queue's pause state: GET /v1/queue, POST /v1/queue/pause and /resume. */
  pauses: PauseStore;
  /** Keeps the workers' ScaledObject paused while anything is; absent: pauses leave it alone. */
  autoscaler?: AutoscalerSync;
  /** Recurring schedules (/v1/schedules); absent: those routes answer 404 schedules_unavailable. */
  schedules?: ScheduleStore;
  /** GET /v1/events' fan-out (services/api/live); absent (TASK_INDEXES=false): that route answers 404. */
  live?: TaskEventHub;
  /** The built web console, served at /console; absent (CONSOLE_ENABLED=false): /console is 404. */
  console?: ConsoleAssets;
}

/** Builds the API without listening or connecting; main.ts does that. */
export function createApp(deps: ApiDeps): Express {
  const { config } = deps;
  const validator = new Validator(config.maxBatchTasks, {
    // An allow-list never shuts out the operational types (helm test sends spillway.ping).
    ...(config.allowedTypes.length > 0 && {
      allowedTypes: new Set([...config.allowedTypes, ...OPERATIONAL_TASK_TYPES]),
    }),
    callbackPolicy: new AddressPolicy(config.callbackAllow),
  });
  const fixedRing = new ApiKeyRing(config.apiKeys);
  const keyRing = deps.keyRing ?? (fixedRing.size > 0 ? () => fixedRing : undefined);
  const submissionLimit =
    deps.rateLimiter &&
    new SubmissionLimit({
      limiter: deps.rateLimiter,
      events: deps.events,
      logger: deps.logger,
      ...(config.rateLimit && config.rateLimit.perSecond > 0 && { defaultRate: config.rateLimit }),
    });
  const backlog = new TenantBacklog({
    store: deps.store,
    defaultMax: config.tenantMaxQueued ?? 0,
    events: deps.events,
    logger: deps.logger,
  });
  const openApi = openApiDocument({
    maxBatchTasks: config.maxBatchTasks,
    authRequired: keyRing !== undefined,
    version: deps.version,
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestContext(deps.events, deps.logger));
  // Probes, scrapers and API tooling carry no key.
  app.use(probeRouter(deps.readiness, deps.metrics));
  // The console's files carry no data; its calls to /v1 carry the key (services/api/console/serve.ts).
  if (deps.console) app.use(consoleRouter(deps.console));
  app.get('/openapi.json', (_req, res) => {
    res.json(openApi);
  });
  app.use(
    '/v1',
    apiKeyAuth(keyRing),
    express.json({
      limit: config.maxBodyBytes,
      strict: false,
      verify: (_req, _res, body) => {
        if (nestedDeeperThan(body, MAX_JSON_DEPTH)) {
          throw new ApiError(422, 'validation_failed', 'the body is nested too deeply', [
            { field: 'body', message: `objects and arrays nested more than ${MAX_JSON_DEPTH} levels deep` },
          ]);
        }
      },
    }),
  );
  const longPolls = new LongPolls(config.longPolls ?? DEFAULT_LONG_POLL_LIMITS);
  app.use(taskSearchRouter(deps));
  app.use(
    tasksRouter({
      ...deps,
      validator,
      maxBatchTasks: config.maxBatchTasks,
      submissionLimit,
      backlog,
      longPolls,
    }),
  );
  app.use(
    batchesRouter({
      ...deps,
      batchValidator: new BatchValidator(validator, config.maxBatchTasks),
      maxBatchTasks: config.maxBatchTasks,
      submissionLimit,
      backlog,
      longPolls,
    }),
  );
  app.use(deadLettersRouter(deps));
  app.use(statsRouter(deps));
  app.use(eventsRouter(deps));
  app.use(fleetRouter(deps));
  app.use(
    queueRouter({
      pauses: deps.pauses,
      autoscaler: deps.autoscaler ?? new AutoscalerSync(undefined, deps.pauses, deps.logger),
      // As submissions: an allow-list never shuts out the operational types.
      ...(config.allowedTypes.length > 0 && {
        allowedTypes: new Set([...config.allowedTypes, ...OPERATIONAL_TASK_TYPES]),
      }),
    }),
  );
  app.use(schedulesRouter({ ...deps, scheduleValidator: new ScheduleValidator(validator) }));
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
