import express, { type Express } from 'express';
import { probeRouter, type MetricsSource, type ReadinessCheck } from '../shared/http/probes';
import type { KafkaInspector } from '../shared/kafka/inspector';
import type { KafkaNames } from '../shared/kafka/names';
import type { Logger } from '../shared/logger';
import type { DeadLetterStore } from '../shared/redis/dead-letter-store';
import type { IdempotencyStore } from '../shared/redis/idempotency-store';
import type { TaskStore } from '../shared/redis/task-store';
import type { TaskWatcher } from '../shared/redis/task-watcher';
import { apiKeyAuth } from './auth';
import type { ApiConfig } from './config';
import type { ApiEvents } from './events';
import { errorHandler, notFound, requestContext } from './http';
import { openApiDocument } from './openapi';
import { deadLettersRouter } from './routes/dead-letters';
import { statsRouter } from './routes/stats';
import { tasksRouter } from './routes/tasks';
import type { TaskSubmitter } from './submit';
import { Validator } from './validation';

export interface ApiDeps {
  config: Pick<ApiConfig, 'maxBodyBytes' | 'maxBatchTasks' | 'apiKeys' | 'allowedTypes'>;
  names: KafkaNames;
  store: TaskStore;
  submitter: TaskSubmitter;
  idempotency: IdempotencyStore;
  deadLetters: DeadLetterStore;
  watcher: TaskWatcher;
  inspector: Pick<KafkaInspector, 'lag'>;
  readiness: readonly ReadinessCheck[];
  events: ApiEvents;
  metrics: MetricsSource;
  logger: Logger;
  version: string;
}

/** Builds the API without listening or connecting; main.ts does that. */
export function createApp(deps: ApiDeps): Express {
  const { config } = deps;
  const validator = new Validator(config.maxBatchTasks, {
    ...(config.allowedTypes.length > 0 && { allowedTypes: new Set(config.allowedTypes) }),
  });
  const openApi = openApiDocument({
    maxBatchTasks: config.maxBatchTasks,
    authRequired: config.apiKeys.length > 0,
    version: deps.version,
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestContext(deps.events, deps.logger));
  // Probes, scrapers and API tooling carry no key.
  app.use(probeRouter(deps.readiness, deps.metrics));
  app.get('/openapi.json', (_req, res) => {
    res.json(openApi);
  });
  app.use('/v1', apiKeyAuth(config.apiKeys), express.json({ limit: config.maxBodyBytes, strict: false }));
  app.use(tasksRouter({ ...deps, validator }));
  app.use(deadLettersRouter(deps));
  app.use(statsRouter(deps));
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
