import type Redis from 'ioredis';
import type { Response } from 'express';
import { ApiError } from '../../shared/errors';
import type { Logger } from '../../shared/logger';
import { connectRedis } from '../../shared/redis/connect';
import { RedisKeys } from '../../shared/redis/keys';
import { parseTaskEvents, type TaskEvent } from '../../shared/redis/task-events';
import type { TaskFilter } from '../../shared/redis/task-index';
import type { TaskStore } from '../../shared/redis/task-store';
import type { TaskEventData } from '../../shared/task-event-wire';
import { eventMatches } from '../task-filter';
import { EventStream, frame, KEEP_ALIVE_FRAME } from './event-stream';
import { RatesSampler, type RatesReading } from './rates-sampler';

export interface LiveLimits {
  /** Streams open at once in one API process (EVENTS_MAX_CLIENTS); beyond, 503 too_many_streams. */
  maxClients: number;
  /** Bytes a stream may leave unread before it is cut (EVENTS_MAX_UNSENT_BYTES). */
  maxUnsentBytes: number;
  /** How often every stream gets a `: keep-alive` comment (EVENTS_KEEPALIVE_MS). */
  keepAliveMs: number;
}

/** EVENTS_MAX_CLIENTS, EVENTS_MAX_UNSENT_BYTES and EVENTS_KEEPALIVE_MS unless set. */
export const DEFAULT_LIVE_LIMITS: LiveLimits = {
  maxClients: 200,
  maxUnsentBytes: 1024 * 1024,
  keepAliveMs: 15_000,
};

/** What the hub reports; metrics.ts turns it into spillway_events_clients{,_dropped_total}. */
export interface LiveEvents {
  /** Streams open now in this process. */
  liveClients(open: number): void;
  /** A stream cut because its client left more than maxUnsentBytes unread. */
  liveClientDropped(): void;
}

/** Who is listening, for what. */
export interface Listener {
  /** False for a stream that asked for no task events (`tasks=none`): rates and keep-alives only. */
  tasks: boolean;
  /** The caller's tenant already applied (task-filter.ts); time and text bounds are not used. */
  filter: TaskFilter;
  /** Whether the caller may see a tenant's tasks (auth.ts canSee): checked on every event. */
  sees(tenant: string): boolean;
  /** Admin streams also get `event: rates`. */
  admin: boolean;
  /** The key, for logs (never the key itself). */
  principal: string;
}

interface Client extends Listener {
  stream: EventStream;
  /** A backlog check is due (see write). */
  checkPending?: boolean;
}

export interface TaskEventHubOptions {
  url: string;
  queue: string;
  store: Pick<TaskStore, 'countsAndTotals'>;
  limits: LiveLimits;
  events: LiveEvents;
  logger: Logger;
  /** How often admin streams get rates (default 1 s, as docs/api.md promises). */
  ratesIntervalMs?: number;
}

/**
 * GET /v1/events' fan-out. The transition script publishes every change of status on one channel
 * per queue (RedisKeys.taskEvents); this hub holds ONE subscriber connection per API process,
 * subscribed only while a stream is open, and hands each event to the streams whose filter and
 * tenant it matches. Each event is serialised once, whatever the number of streams.
 *
 * Invariant: no stream makes this process hold more than maxUnsentBytes for it, plus what one
 * turn of the event loop writes (a Redis read's messages): past that, the stream is cut and its
 * client reconnects (`retry:`), having missed events. A live stream is a view, not a log;
 * GET /v1/tasks is the reconciliation.
 */
export class TaskEventHub {
  private readonly clients = new Set<Client>();
  private readonly channel: string;
  private readonly sampler: RatesSampler;
  private subscriber: Redis | undefined;
  private subscribed: Promise<void> | undefined;
  private keepAlive: NodeJS.Timeout | undefined;
  private admins = 0;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: TaskEventHubOptions) {
    this.channel = new RedisKeys(options.queue).taskEvents();
    this.sampler = new RatesSampler(
      options.store,
      options.ratesIntervalMs ?? 1000,
      (reading) => this.broadcastRates(reading),
      options.logger,
    );
  }

  get size(): number {
    return this.clients.size;
  }

  /**
   * Opens a stream on `res` once the subscription is in force, so that every change after the
   * answer's headers is seen. Throws 503 (too_many_streams, or Redis unreachable) before any
   * header is sent; ends by itself when the client leaves.
   */
  async open(res: Response, listener: Listener): Promise<void> {
    if (this.closing)
      throw new ApiError(503, 'unavailable', 'this API instance is stopping; reconnect', [], 1);
    const { maxClients } = this.options.limits;
    if (this.clients.size >= maxClients) {
      throw new ApiError(
        503,
        'too_many_streams',
        `this API instance has ${this.clients.size} event streams open (at most ${maxClients}); retry later`,
        [],
        5,
      );
    }
    // Gone while its request was read: its 'close' has passed, so it would never leave.
    if (res.socket?.destroyed !== false) return;
    const client: Client = { ...listener, stream: new EventStream(res) };
    this.join(client);
    res.on('close', () => this.leave(client));
    try {
      await this.subscription();
    } catch (err) {
      this.leave(client);
      throw err;
    }
    client.stream.start();
  }

  /** Ends every stream (as a normal end, so clients reconnect elsewhere) and disconnects. Safe twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const client of [...this.clients]) {
        client.stream.end();
        this.leave(client);
      }
      await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
    })();
    return this.closing;
  }

  private join(client: Client): void {
    this.clients.add(client);
    if (client.admin && ++this.admins === 1) this.sampler.start();
    this.keepAlive ??= setInterval(() => this.broadcast(KEEP_ALIVE_FRAME), this.options.limits.keepAliveMs);
    this.options.events.liveClients(this.clients.size);
  }

  private leave(client: Client): void {
    if (!this.clients.delete(client)) return;
    if (client.admin && --this.admins === 0) this.sampler.stop();
    this.options.events.liveClients(this.clients.size);
    if (this.clients.size > 0) return;
    clearInterval(this.keepAlive);
    this.keepAlive = undefined;
    // Nobody listens: stop Redis sending every change to this process.
    if (this.subscribed) {
      this.subscribed = undefined;
      this.subscriber?.unsubscribe(this.channel).catch(() => undefined);
    }
  }

  /** Subscribes once for all streams; a failed attempt is forgotten, so the next stream retries. */
  private subscription(): Promise<void> {
    if (!this.subscribed) {
      const attempt = this.connection()
        .subscribe(this.channel)
        .then(() => undefined);
      this.subscribed = attempt;
      attempt.catch(() => {
        if (this.subscribed === attempt) this.subscribed = undefined;
      });
    }
    return this.subscribed;
  }

  private connection(): Redis {
    if (!this.subscriber) {
      // A subscribed connection can run nothing else, so it is its own; no command timeout, as
      // it is idle by design. ioredis subscribes again by itself after reconnecting.
      const subscriber = connectRedis(this.options.url, 0);
      subscriber.on('message', (channel: string, message: string) => {
        if (channel === this.channel) this.deliver(parseTaskEvents(message));
      });
      this.subscriber = subscriber;
    }
    return this.subscriber;
  }

  /** One message's events to every stream they match: one write per stream, not per event. */
  private deliver(events: TaskEvent[]): void {
    if (events.length === 0) return;
    const frames = events.map((event) => ({ event, text: frame('task', JSON.stringify(eventBody(event))) }));
    for (const client of this.clients) {
      if (!client.tasks) continue;
      let out = '';
      for (const { event, text } of frames) {
        if (client.sees(event.tenant) && eventMatches(client.filter, event)) out += text;
      }
      if (out) this.write(client, out);
    }
  }

  private broadcastRates(reading: RatesReading): void {
    const text = frame('rates', JSON.stringify(reading));
    for (const client of this.clients) if (client.admin) this.write(client, text);
  }

  private broadcast(text: string): void {
    for (const client of this.clients) this.write(client, text);
  }

  private write(client: Client, text: string): void {
    client.stream.write(text);
    if (client.checkPending) return;
    client.checkPending = true;
    // Measured once this moment's writes are handed to the socket: until then (Node corks an
    // HTTP response for the rest of the tick) every byte just written counts as unsent, even
    // for a client that reads as fast as it can.
    setImmediate(() => {
      client.checkPending = false;
      this.checkBacklog(client);
    });
  }

  private checkBacklog(client: Client): void {
    const unsent = client.stream.unsent;
    const limit = this.options.limits.maxUnsentBytes;
    if (unsent <= limit || !this.clients.has(client)) return;
    this.options.logger.warn('event stream cut: its client reads too slowly', {
      principal: client.principal,
      unsentBytes: unsent,
      limitBytes: limit,
    });
    this.options.events.liveClientDropped();
    client.stream.destroy();
    this.leave(client);
  }
}

/** The `data:` of an `event: task` (docs/api.md, "Live events"). */
function eventBody(event: TaskEvent): TaskEventData {
  return {
    id: event.id,
    type: event.type,
    tenant: event.tenant,
    status: event.status,
    at: new Date(event.at).toISOString(),
    key: event.key ?? null,
  };
}
