import type { Kafka, Producer, TopicMessages } from 'kafkajs';
import { JavaCompatiblePartitioner } from './partitioner';
import { UnavailableError } from '../errors';
import { KafkaRefusedError, kafkaRefusal } from './refusals';

/**
 * The timeout fired while the messages were being sent: Kafka may still append them (kafkajs
 * keeps retrying), so "not accepted" cannot be promised. `landed` settles with the real outcome.
 */
export class InDoubtError extends UnavailableError {
  constructor(readonly landed: Promise<boolean>) {
    super(
      'Kafka did not confirm in time; the task may still be accepted: retry with the same Idempotency-Key',
    );
    this.name = 'InDoubtError';
  }
}

export interface OutgoingMessage {
  topic: string;
  key?: string;
  value: Buffer;
  headers?: Record<string, string>;
}

/** Puts messages on Kafka; resolves only once Kafka acknowledged every one of them. */
export interface Publisher {
  publish(messages: OutgoingMessage[]): Promise<void>;
}

export interface BatchingOptions {
  /** How long the first message of a batch waits for company when nothing is being sent. */
  lingerMs: number;
  /** Messages per Kafka request at most. */
  maxBatchMessages: number;
  /** Bytes of message values per Kafka request at most (under the broker's message.max.bytes). */
  maxBatchBytes: number;
  /** Longest a publish() waits for its acknowledgement before rejecting with UnavailableError. */
  timeoutMs: number;
  /** Messages waiting for a send at most; beyond it publish() rejects at once (bounded memory). */
  maxPendingMessages: number;
  /** Bytes of messages waiting for a send at most (default: no limit beyond the count); likewise. */
  maxPendingBytes?: number;
  /**
   * Largest message (value and key) publish() takes; a larger one is refused at once with
   * KafkaRefusedError, as Kafka would refuse it. Unset: Kafka's answer decides.
   */
  maxMessageBytes?: number;
}

export interface PublisherEvents {
  batchSent(messages: number, seconds: number, ok: boolean): void;
}

interface Entry {
  messages: OutgoingMessage[];
  bytes: number;
  settled: boolean;
  /** Set once the entry is part of a send: from then on a timeout leaves its outcome in doubt. */
  sending: boolean;
  /** Sent in a batch Kafka refused: it goes alone next, so only the entry at fault is refused. */
  alone: boolean;
  landed: Promise<boolean>;
  reportLanded(landed: boolean): void;
  timer: NodeJS.Timeout;
  resolve(): void;
  reject(err: Error): void;
}

/**
 * kafkajs has no linger: one send per request would cost a round trip each. This coalesces the
 * publish() calls that arrive together into one Kafka request: while a send is in flight the
 * next batch fills, and an idle publisher waits at most `lingerMs`. One send at a time, which is
 * what kafkajs' idempotent producer needs anyway.
 */
export class BatchingPublisher implements Publisher {
  private producer: Producer;
  /** Set when a send failed: the next send starts a new producer session first. */
  private stale = false;
  private readonly pending: Entry[] = [];
  private pendingMessages = 0;
  private pendingBytes = 0;
  private sending = false;
  private lingerTimer?: NodeJS.Timeout;
  private closing?: Promise<void>;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: BatchingOptions,
    private readonly events: PublisherEvents = { batchSent: () => undefined },
  ) {
    this.producer = this.newProducer();
  }

  /**
   * Idempotent: a retried request cannot write a message twice. kafkajs needs one request in
   * flight for that, as it cannot renumber sequences after a failure; for the same reason a
   * failed send retires the producer (see flush), so a stuck sequence cannot fail every later send.
   */
  private newProducer(): Producer {
    return this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: JavaCompatiblePartitioner,
    });
  }

  /** A new producer id and fresh sequence numbers after a failure. */
  private async renewProducer(): Promise<void> {
    const old = this.producer;
    this.producer = this.newProducer();
    this.stale = false;
    await old.disconnect().catch(() => undefined);
    await this.producer.connect();
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  publish(messages: OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    if (this.closing)
      return Promise.reject(new UnavailableError('the API is shutting down; try another instance'));
    if (this.pendingMessages + messages.length > this.options.maxPendingMessages) {
      return Promise.reject(new UnavailableError('too many submissions are waiting for Kafka; slow down'));
    }
    const bytes = messages.reduce((sum, m) => sum + messageBytes(m), 0);
    if (this.pendingBytes + bytes > (this.options.maxPendingBytes ?? Infinity) && this.pendingBytes > 0) {
      return Promise.reject(new UnavailableError('too many bytes are waiting for Kafka; slow down'));
    }
    const { maxMessageBytes } = this.options;
    const tooLarge = messages.find((m) => maxMessageBytes !== undefined && messageBytes(m) > maxMessageBytes);
    if (tooLarge) {
      return Promise.reject(
        new KafkaRefusedError(
          'MESSAGE_TOO_LARGE',
          `Kafka would refuse the message (MESSAGE_TOO_LARGE): the message is ${messageBytes(tooLarge)} bytes; ${tooLarge.topic} takes at most ${maxMessageBytes}`,
        ),
      );
    }
    let reportLanded: (landed: boolean) => void = () => undefined;
    const landed = new Promise<boolean>((resolve) => (reportLanded = resolve));
    return new Promise<void>((resolve, reject) => {
      const entry: Entry = {
        messages,
        bytes,
        settled: false,
        sending: false,
        alone: false,
        landed,
        reportLanded,
        resolve,
        reject,
        // Never sent: it is dropped from the queue, so "not accepted" is certain. Being sent:
        // only the send's eventual outcome can tell.
        timer: setTimeout(
          () =>
            this.settle(
              entry,
              entry.sending
                ? new InDoubtError(entry.landed)
                : new UnavailableError('Kafka did not acknowledge in time; the task was not accepted'),
            ),
          this.options.timeoutMs,
        ),
      };
      this.pending.push(entry);
      this.pendingMessages += messages.length;
      this.pendingBytes += bytes;
      this.schedule();
    });
  }

  /** Sends what is pending, then disconnects. New publish() calls are refused from now on. */
  disconnect(): Promise<void> {
    this.closing ??= (async () => {
      clearTimeout(this.lingerTimer);
      while (this.pending.some((e) => !e.settled) || this.sending) {
        if (!this.sending) await this.flush();
        else await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await this.producer.disconnect();
    })();
    return this.closing;
  }

  private schedule(): void {
    if (this.sending) return; // the send in flight flushes when it completes
    const full = this.pendingMessages >= this.options.maxBatchMessages;
    if (full || this.options.lingerMs === 0) void this.flush();
    else this.lingerTimer ??= setTimeout(() => void this.flush(), this.options.lingerMs);
  }

  private async flush(): Promise<void> {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    if (this.sending) return;
    const batch = this.takeBatch();
    if (batch.length === 0) return;
    this.sending = true;
    for (const entry of batch) entry.sending = true;
    const started = performance.now();
    const count = batch.reduce((sum, e) => sum + e.messages.length, 0);
    try {
      if (this.stale) await this.renewProducer();
      await this.producer.sendBatch({
        acks: -1,
        timeout: this.options.timeoutMs,
        topicMessages: byTopic(batch),
      });
      this.events.batchSent(count, (performance.now() - started) / 1000, true);
      for (const entry of batch) {
        entry.reportLanded(true);
        this.settle(entry);
      }
    } catch (cause) {
      this.stale = true;
      this.events.batchSent(count, (performance.now() - started) / 1000, false);
      const refusal = kafkaRefusal(cause);
      if (refusal && batch.length > 1) {
        // Which entry Kafka refused is not said: each goes again alone, and only its own is refused.
        for (const entry of batch) Object.assign(entry, { sending: false, alone: true });
        this.pending.unshift(...batch);
        this.pendingMessages += count;
        this.pendingBytes += batch.reduce((sum, e) => sum + e.bytes, 0);
      } else {
        const err = refusal ?? new UnavailableError('Kafka is unreachable; the task was not accepted');
        for (const entry of batch) {
          entry.reportLanded(false);
          this.settle(entry, err);
        }
      }
    } finally {
      this.sending = false;
      // What arrived meanwhile has already waited at least one send: go now.
      if (this.pending.length > 0) void this.flush();
    }
  }

  /** Whole entries, oldest first, within the batch limits; entries that timed out are dropped. */
  private takeBatch(): Entry[] {
    const batch: Entry[] = [];
    let messages = 0;
    let bytes = 0;
    while (this.pending.length > 0) {
      const entry = this.pending[0]!;
      if (entry.settled) {
        this.pending.shift();
        this.pendingMessages -= entry.messages.length;
        this.pendingBytes -= entry.bytes;
        entry.reportLanded(false);
        continue;
      }
      const fits =
        messages + entry.messages.length <= this.options.maxBatchMessages &&
        bytes + entry.bytes <= this.options.maxBatchBytes;
      if (batch.length > 0 && (!fits || entry.alone)) break; // an entry over the limits still goes, alone
      this.pending.shift();
      this.pendingMessages -= entry.messages.length;
      this.pendingBytes -= entry.bytes;
      batch.push(entry);
      messages += entry.messages.length;
      bytes += entry.bytes;
      if (entry.alone) break;
    }
    return batch;
  }

  private settle(entry: Entry, err?: Error): void {
    if (entry.settled) return;
    entry.settled = true;
    clearTimeout(entry.timer);
    if (err) entry.reject(err);
    else entry.resolve();
  }
}

function byTopic(batch: Entry[]): TopicMessages[] {
  const topics = new Map<string, TopicMessages>();
  for (const { messages } of batch) {
    for (const { topic, key, value, headers } of messages) {
      const group = topics.get(topic) ?? { topic, messages: [] };
      group.messages.push({ key: key ?? null, value, headers });
      topics.set(topic, group);
    }
  }
  return [...topics.values()];
}

/** What Kafka counts against max.message.bytes, near enough: the value and the key. */
export function messageBytes(message: OutgoingMessage): number {
  return message.value.length + (message.key === undefined ? 0 : Buffer.byteLength(message.key));
}
