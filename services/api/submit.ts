import { randomUUID } from 'node:crypto';
import type { OutgoingMessage, Publisher } from '../shared/kafka/batching-publisher';
import { planDelay, RELEASE_AT_HEADER } from '../shared/kafka/delay-tiers';
import type { KafkaNames } from '../shared/kafka/names';
import type { Logger } from '../shared/logger';
import type { TaskStore, Transition } from '../shared/redis/task-store';
import type { TaskMessage } from '../shared/task';
import { encodeTaskMessage } from '../shared/task-message';
import type { ApiEvents } from './events';
import type { Submission } from './validation';

export interface Accepted {
  id: string;
  type: string;
  status: 'queued' | 'scheduled';
  createdAt: string;
  runAt?: string;
}

export interface SubmitterDeps {
  publisher: Publisher;
  store: TaskStore;
  names: KafkaNames;
  events: ApiEvents;
  logger: Logger;
}

/**
 * Turns validated submissions into task messages: due ones onto the tasks topic, delayed ones
 * onto their delay tier. All of one call go to Kafka together; the call resolves once Kafka
 * acknowledged every one (or rejects, and then none has an id a client saw).
 */
export class TaskSubmitter {
  constructor(private readonly deps: SubmitterDeps) {}

  async submit(submissions: Submission[]): Promise<Accepted[]> {
    const { publisher, store, names, events, logger } = this.deps;
    const started = performance.now();
    const now = Date.now();
    const planned = submissions.map((submission) => {
      const message: TaskMessage = { id: randomUUID(), enqueuedAt: now, ...submission };
      const delay = message.runAt === undefined ? undefined : planDelay(message.runAt, now, names.delayTiers);
      const outgoing: OutgoingMessage = {
        topic: delay?.topic ?? names.tasksTopic,
        value: encodeTaskMessage(message),
        ...(message.key !== undefined && { key: message.key }),
        ...(delay && { headers: { [RELEASE_AT_HEADER]: String(delay.releaseAt) } }),
      };
      return { message, outgoing, status: delay ? ('scheduled' as const) : ('queued' as const) };
    });

    try {
      await publisher.publish(planned.map((p) => p.outgoing));
    } catch (err) {
      for (const { message } of planned) events.tasksEnqueued(message.type, 'unavailable', 1);
      throw err;
    }

    // Kafka holds the tasks now, so they will run whatever happens next. If these writes fail,
    // a worker's first status write creates the record; until then GET answers 404.
    const createdAt = new Date(now);
    const records = planned.map(({ message, status }): Transition => ({
      id: message.id,
      type: message.type,
      createdAt,
      status,
      attempt: 0,
      at: createdAt,
      ...(status === 'scheduled' && { runAt: new Date(message.runAt!) }),
    }));
    await store
      .transitionMany(records)
      .catch((err: unknown) =>
        logger.warn('queued records not written', { tasks: records.length, error: String(err) }),
      );

    for (const { message } of planned) events.tasksEnqueued(message.type, 'accepted', 1);
    events.enqueueLatency((performance.now() - started) / 1000);
    return planned.map(({ message, status }) => ({
      id: message.id,
      type: message.type,
      status,
      createdAt: createdAt.toISOString(),
      ...(status === 'scheduled' && { runAt: new Date(message.runAt!).toISOString() }),
    }));
  }
}
