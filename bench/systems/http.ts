import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';

/**
 * The Express app every non-Spillway system shares: the same JSON body parsing as Spillway's
 * (services/api/app.ts), so the handlers alone differ.
 */
export function jsonApp(): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use('/v1', express.json({ limit: 1024 * 1024, strict: false }));
  return app;
}

export async function listen(app: Express): Promise<{ port: number; close(): Promise<void> }> {
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

export interface Submission {
  type: string;
  payload: unknown;
  /** As sent; BullMQ's handler maps Spillway's `high`, `normal` and `low`, and ignores anything else. */
  priority?: string;
}

/** The `{type, payload, priority}` of a submission, or undefined for a body that is not one. */
export function submission(body: unknown): Submission | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { type, payload, priority } = body as { type?: unknown; payload?: unknown; priority?: unknown };
  if (typeof type !== 'string') return undefined;
  return typeof priority === 'string'
    ? { type, payload: payload ?? null, priority }
    : { type, payload: payload ?? null };
}
