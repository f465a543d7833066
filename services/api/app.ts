import express, { type Express } from 'express';
import type { Logger } from '../shared/logger';
import { probeRouter, type MetricsSource, type ReadinessCheck } from '../shared/http/probes';
import type { TaskStore } from '../shared/redis/task-store';
import type { ApiConfig } from './config';
import type { ApiEvents } from './events';
import { errorHandler, notFound, requestContext } from './http';
import { tasksRouter } from './routes/tasks';
import type { TaskPublisher } from './task-publisher';

export interface ApiDeps {
  config: Pick<ApiConfig, 'maxBodyBytes'>;
  store: TaskStore;
  publisher: TaskPublisher;
  readiness: readonly ReadinessCheck[];
  events: ApiEvents;
  metrics: MetricsSource;
  logger: Logger;
}

/** Builds the API without listening or connecting; main.ts does that. */
export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestContext(deps.events));
  app.use(probeRouter(deps.readiness, deps.metrics));
  app.use('/v1', express.json({ limit: deps.config.maxBodyBytes, strict: false }));
  app.use(tasksRouter(deps));
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
