import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import { ApiError, UnavailableError } from '../shared/errors';
import type { IdempotencyStore } from '../shared/redis/idempotency-store';
import type { JsonValue } from '../shared/task';

export interface Reply {
  status: number;
  body: JsonValue;
}

/**
 * A failure whose work may still complete (a Kafka send in doubt): the key stays claimed until
 * `eventualReply` settles, then remembers that reply, or is released if nothing was created.
 */
export class ReplyInDoubt extends UnavailableError {
  constructor(
    message: string,
    readonly eventualReply: Promise<Reply | undefined>,
  ) {
    super(message);
    this.name = 'ReplyInDoubt';
  }
}

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/**
 * Runs `handle` at most once per Idempotency-Key (per API key): a repeat of the same request
 * gets the first response again with status 200 and `Idempotent-Replayed: true`; the same key with
 * a different body is 409. A request that created nothing (an error) releases the key.
 */
export async function respondIdempotently(
  store: IdempotencyStore,
  req: Request,
  res: Response,
  handle: () => Promise<Reply>,
): Promise<void> {
  const clientKey = req.get('idempotency-key');
  if (clientKey === undefined) {
    const reply = await handle();
    res.status(reply.status).json(reply.body);
    return;
  }
  if (!KEY_PATTERN.test(clientKey)) {
    throw new ApiError(422, 'validation_failed', 'the Idempotency-Key header is not valid', [
      { field: 'Idempotency-Key', message: '1 to 255 printable ASCII characters' },
    ]);
  }
  const fingerprint = createHash('sha256')
    .update(`${req.method} ${req.path}\n${JSON.stringify(req.body)}`)
    .digest('hex');
  const prior = await store.begin(req.principal, clientKey, fingerprint);
  switch (prior.state) {
    case 'mismatch':
      throw new ApiError(
        409,
        'idempotency_key_reused',
        'this Idempotency-Key was used with a different request',
        [{ field: 'Idempotency-Key', message: 'use a new key for a new request' }],
      );
    case 'pending':
      throw new ApiError(
        409,
        'idempotency_request_in_progress',
        'a request with this Idempotency-Key is still running',
        [],
        1,
      );
    case 'done':
      res.status(200).set('Idempotent-Replayed', 'true').json(prior.body);
      return;
  }
  let reply: Reply;
  try {
    reply = await handle();
  } catch (err) {
    if (err instanceof ReplyInDoubt) {
      // A retry with this key meanwhile gets 409 in progress, then the real outcome: never a second task.
      void err.eventualReply
        .then((late) =>
          late
            ? store.complete(req.principal, clientKey, fingerprint, late.status, late.body)
            : store.abandon(req.principal, clientKey),
        )
        .catch(() => undefined);
    } else {
      await store.abandon(req.principal, clientKey).catch(() => undefined);
    }
    throw err;
  }
  // The tasks exist now: a failure to remember the reply must not turn into an error for them.
  await store
    .complete(req.principal, clientKey, fingerprint, reply.status, reply.body)
    .catch(() => undefined);
  res.status(reply.status).json(reply.body);
}
