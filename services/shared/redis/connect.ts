import Redis from 'ioredis';

/** Opens a connection configured the way every Spillway Redis client should be; 0: no command timeout. */
export function connectRedis(url: string, commandTimeoutMs = 2000): Redis {
  // lazyConnect: constructing a store must not open sockets (createApp/createWorker stay pure).
  // No auto-pipelining: ioredis keeps one auto-pipeline in flight per connection and queues
  // the next behind its replies, so a worker at concurrency 16 waited about two Redis round
  // trips per write (measured: draining ran 30% faster without it). Callers that write many
  // records at once pipeline them explicitly (RedisTaskStore.transitionMany).
  const redis = new Redis(url, {
    lazyConnect: true,
    enableAutoPipelining: false,
    maxRetriesPerRequest: 2,
    // ioredis applies any number, 0 included (every command would time out at once).
    ...(commandTimeoutMs > 0 && { commandTimeout: commandTimeoutMs }),
  });
  // ioredis reconnects by itself; without a listener an 'error' event would crash the process.
  redis.on('error', () => undefined);
  return redis;
}

/**
 * Replies with which a reachable Redis refuses a write for now, not because of the command: out
 * of memory (`maxmemory`), a failed disk save (MISCONF), a replica (READONLY), a long script
 * (BUSY), a restart loading its data (LOADING). Retrying the write later is right; treating it as
 * a failure of the task (and running its handler again) is not.
 */
const REFUSED_FOR_NOW = /^(OOM|MISCONF|READONLY|BUSY|LOADING|MASTERDOWN|NOREPLICAS|TRYAGAIN|CLUSTERDOWN)\b/;

/**
 * True when Redis cannot take the command now: unreachable, or refusing it for now (see
 * REFUSED_FOR_NOW), as opposed to a bad command.
 */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return (
    err.name === 'MaxRetriesPerRequestError' ||
    /^(Connection is closed|Command timed out|Stream isn't writeable)/.test(err.message) ||
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT/.test(err.message) ||
    (err.name === 'ReplyError' && REFUSED_FOR_NOW.test(err.message))
  );
}
