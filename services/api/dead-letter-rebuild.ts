import type { Kafka } from 'kafkajs';
import type { DeadLetter } from '../shared/dead-letter';
import type { RebuildReport } from '../shared/dead-letter-reports';
import { ApiError } from '../shared/errors';
import type { KafkaNames } from '../shared/kafka/names';
import { readTopicToEnd } from '../shared/kafka/topic-reader';
import type { Logger } from '../shared/logger';
import type { DeadLetterStore } from '../shared/redis/dead-letter-store';

/**
 * Re-indexes the dead-letter topic into Redis: the topic is the durable record (Kafka keeps it
 * for the topic's retention), Redis the index the API lists and replays from. After a Redis
 * flush or a move to a new Redis, this brings back every letter younger than the TTL.
 */
export class DeadLetterRebuild {
  private running = false;

  constructor(
    private readonly deps: { kafka: Kafka; names: KafkaNames; store: DeadLetterStore; logger: Logger },
  ) {}

  async run(): Promise<RebuildReport> {
    if (this.running) {
      throw new ApiError(
        409,
        'rebuild_in_progress',
        'a rebuild is already running on this API instance',
        [],
        5,
      );
    }
    this.running = true;
    try {
      const { kafka, names, store, logger } = this.deps;
      const report: RebuildReport = {
        read: 0,
        restored: 0,
        present: 0,
        discarded: 0,
        expired: 0,
        unreadable: 0,
      };
      report.read = await readTopicToEnd(
        kafka,
        names.deadLetterTopic,
        `${names.workerGroup}.rebuild`,
        async (value) => {
          const entry = parse(value);
          if (!entry) report.unreadable++;
          else report[await store.restore(entry)]++;
        },
      );
      logger.info('dead letters re-indexed from Kafka', { ...report });
      return report;
    } finally {
      this.running = false;
    }
  }
}

function parse(value: Buffer | null): DeadLetter | undefined {
  try {
    const entry = JSON.parse(value?.toString('utf8') ?? '') as Partial<DeadLetter>;
    const ok =
      typeof entry.id === 'string' && typeof entry.deadAt === 'number' && typeof entry.reason === 'string';
    return ok ? (entry as DeadLetter) : undefined;
  } catch {
    return undefined;
  }
}
