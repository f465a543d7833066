import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import { ApiError, UnavailableError } from '../shared/errors';
import type { IdempotencyStore } from '../shared/redis/idempotency-store';
import type { JsonValue } from '../shared/task';
import { idempotencyScope } from './auth';

export interface Reply {
  status: number;
  body: JsonValue;
}

/**
 * A failure whose work may still complete (a Kafka send in doubt): the key stays claimed until
 * `eventualReply` settles, then remembers that reply, or, if Kafka never confirmed, keeps the
 * seed for the retry.
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
 * a different body is 409. `handle` gets the seed its task ids must derive from: a request that
 * retries one whose tasks may have reached Kafka gets the same seed, so it cannot create new
 * tasks; without a key it gets undefined (random ids).
 */
export async function respondIdempotently(
  store: IdempotencyStore,
  req: Request,
  res: Response,
  handle: (idSeed: string | undefined) => Promise<Reply>,
): Promise<void> {
  const clientKey = req.get('idempotency-key');
  if (clientKey === undefined) {
    const reply = await handle(undefined);
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
  const claim = store.claim(idempotencyScope(req.caller), clientKey, fingerprint);
  let prior;
  try {
    prior = await store.begin(claim);
  } catch (err) {
    // Redis may have taken the claim and lost only the answer: left alone, it would answer 409
    // to every retry until its lease ran out.
    store.releaseEventually(claim);
    throw err;
  }
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
  const { seed } = prior;
  let reply: Reply;
  try {
    reply = await handle(seed);
  } catch (err) {
    if (err instanceof ReplyInDoubt) {
      // A retry meanwhile gets 409 in progress, then the real outcome. If Kafka never confirms,
      // the key keeps its seed: a retry publishes the same task ids, never a second task.
      void err.eventualReply
        .then((late) =>
          late ? store.complete(claim, seed, late.status, late.body) : store.release(claim, true),
        )
        .catch(() => undefined);
    } else {
      // A 503 may come from a send that failed after the broker had appended it (the connection
      // closed before the answer): keep the seed, so a retry cannot make it a second task. Any
      // other error sent nothing, and frees the key (unless an earlier holder may have sent).
      await store.release(claim, err instanceof UnavailableError).catch(() => undefined);
    }
    throw err;
  }
  // The tasks exist now: a failure to remember the reply must not turn into an error for them.
  await store.complete(claim, seed, reply.status, reply.body).catch(() => undefined);
  res.status(reply.status).json(reply.body);
}
