import { Kafka, logLevel as KafkaLogLevel, type Admin, type LogEntry, type SASLOptions } from 'kafkajs';
import type { CommonConfig } from '../config';
import type { Logger } from '../logger';
import { allTopics, type KafkaNames } from './names';

export interface KafkaClientOptions {
  /** Retries of each request (kafkajs default 5, with backoff). */
  retries?: number;
  connectionTimeoutMs?: number;
}

/** Builds the kafkajs client; connections open only when a producer, consumer or admin connects. */
export function createKafka(
  config: CommonConfig['kafka'],
  logger: Logger,
  options: KafkaClientOptions = {},
): Kafka {
  const log = dedupedLog(logger);
  return new Kafka({
    clientId: config.clientId,
    brokers: config.brokers,
    connectionTimeout: options.connectionTimeoutMs ?? 3000,
    ssl: config.ssl ?? false,
    // kafkajs types SASL as a union per mechanism; the config holds one of its mechanisms.
    ...(config.sasl && { sasl: config.sasl as SASLOptions }),
    ...(options.retries !== undefined && { retry: { retries: options.retries } }),
    logLevel: KafkaLogLevel.WARN,
    logCreator: () => log,
  });
}

/** How long an identical kafkajs line is held back after it was logged. */
const REPEAT_WINDOW_MS = 10_000;

/**
 * kafkajs logs each retry of a broken connection: an outage of seconds would write hundreds of
 * identical lines. Repeats within REPEAT_WINDOW_MS are counted and reported with the next line.
 */
function dedupedLog(logger: Logger): (entry: LogEntry) => void {
  const lastLogged = new Map<string, { at: number; suppressed: number }>();
  return ({ level, namespace, log }) => {
    const { message, timestamp: _timestamp, logger: _name, ...fields } = log;
    // kafkajs logs every error response at ERROR, including ones its caller retries or handles
    // (a topic another process just created, a coordinator still loading); the caller reports
    // what really failed, so these are debug lines.
    const handledByCaller = namespace === 'Connection' && message.startsWith('Response ');
    // A line with a retryCount is kafkajs' retrier about to try again (a partition whose leader
    // just moved); if every retry fails, the caller gets the error and reports it.
    const retrying = 'retryCount' in fields;
    const at = handledByCaller
      ? 'debug'
      : level <= KafkaLogLevel.ERROR
        ? retrying
          ? 'warn'
          : 'error'
        : level === KafkaLogLevel.WARN
          ? 'warn'
          : 'debug';
    const key = `${at}|${namespace}|${message}`;
    const seen = lastLogged.get(key);
    const now = Date.now();
    if (seen && now - seen.at < REPEAT_WINDOW_MS) {
      seen.suppressed++;
      return;
    }
    if (lastLogged.size > 1000) lastLogged.clear();
    lastLogged.set(key, { at: now, suppressed: 0 });
    const repeats = seen?.suppressed ? { repeatedSinceLast: seen.suppressed } : {};
    logger[at](message, { component: 'kafkajs', namespace, ...fields, ...repeats });
  };
}

/** At start-up, creates the queue's topics unless the deployment manages them (Strimzi KafkaTopic). */
export async function prepareTopics(
  kafka: Kafka,
  config: CommonConfig['kafka'],
  names: KafkaNames,
): Promise<void> {
  if (!config.createTopics) return;
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, allTopics(names), config.taskPartitions);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Creates missing topics and returns once every partition of `topics` has a leader; existing
 * topics are left as they are (their partition count included).
 */
export async function ensureTopics(
  admin: Admin,
  topics: string[],
  numPartitions: number,
  timeoutMs = 30_000,
): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((topic) => !existing.has(topic));
  if (missing.length > 0) {
    try {
      await admin.createTopics({
        // kafkajs waits for leaders by default, and gives up on a fresh broker: we wait below.
        waitForLeaders: false,
        topics: missing.map((topic) => ({ topic, numPartitions, replicationFactor: -1 })),
      });
    } catch (err) {
      // Another process created it between our list and create: that is the outcome we wanted.
      if ((err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw err;
    }
  }
  await waitForLeaders(admin, topics, timeoutMs);
}

/**
 * kafkajs' own waitForLeaders gives up on the "unknown topic" a busy or fresh broker answers
 * while it is still creating the topic; a retriable answer here just means "not yet".
 */
async function waitForLeaders(admin: Admin, topics: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { topics: described } = await admin.fetchTopicMetadata({ topics });
      const led = described.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0));
      if (led) return;
    } catch (err) {
      if (!(err as { retriable?: boolean }).retriable || Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline)
      throw new Error(`topics have no leader after ${timeoutMs} ms: ${topics.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * At start-up, waits until a broker answers (trying again every few seconds, logging each wait)
 * instead of failing: a process started during a broker outage, or right after its consumer
 * died in one, comes up once Kafka does, rather than exiting into an ever longer restart backoff.
 * Rejects only if `signal` aborts first (the process is told to stop).
 */
export async function waitForKafka(kafka: Kafka, logger: Logger, signal?: AbortSignal): Promise<void> {
  for (let delay = 1000, since = Date.now(); ; delay = Math.min(delay * 2, 5000)) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.listTopics();
      if (Date.now() - since > 1000) logger.info('Kafka answers', { waitedMs: Date.now() - since });
      return;
    } catch (err) {
      if (signal?.aborted) throw err;
      logger.warn('Kafka does not answer yet; waiting for it', { error: String(err), retryInMs: delay });
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
