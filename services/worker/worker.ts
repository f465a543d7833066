import type { Consumer, EachMessagePayload } from 'kafkajs';
import type { Logger } from '../shared/logger';
import { decodeTaskMessage, PoisonMessageError } from '../shared/task-message';
import { runTask, type RunTaskDeps } from './run-task';

export interface WorkerDeps extends RunTaskDeps {
  consumer: Consumer;
  tasksTopic: string;
  /** How often to heartbeat while a handler runs; below a third of the session timeout. */
  heartbeatIntervalMs: number;
  logger: Logger;
}

export interface Worker {
  /** Connects, joins the consumer group and starts consuming; resolves once consuming started. */
  start(): Promise<void>;
  /**
   * Stops fetching, lets the running task finish, commits, leaves the group. A task still
   * running after `drainMs` has its signal aborted and is left for redelivery. Safe to call twice.
   */
  stop(drainMs: number): Promise<void>;
  /** True while the worker is a member of its consumer group. */
  isReady(): boolean;
}

/** Builds a worker without connecting; start() does that. */
export function createWorker(deps: WorkerDeps): Worker {
  const { consumer, logger } = deps;
  const shutdown = new AbortController();
  let joined = false;
  let stopping: Promise<void> | undefined;

  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    joined = true;
    logger.info('joined consumer group', { memberAssignment: event.payload.memberAssignment });
  });
  consumer.on(consumer.events.CRASH, (event) => {
    joined = false;
    logger.error('consumer crashed', { error: String(event.payload.error), restart: event.payload.restart });
  });
  consumer.on(consumer.events.STOP, () => {
    joined = false;
  });

  async function eachMessage({ message, partition, heartbeat }: EachMessagePayload): Promise<void> {
    let task;
    try {
      task = decodeTaskMessage(message.value);
    } catch (err) {
      if (!(err instanceof PoisonMessageError)) throw err;
      // Retrying cannot make it a task; skipping keeps the partition moving.
      logger.error('poison message skipped', { partition, offset: message.offset, reason: err.message });
      deps.events.poisonMessage();
      return;
    }
    // kafkajs only heartbeats between messages; a long handler would get us evicted from the group.
    const beat = setInterval(() => heartbeat().catch(() => undefined), deps.heartbeatIntervalMs);
    try {
      await runTask(task, shutdown.signal, deps);
    } finally {
      clearInterval(beat);
    }
  }

  return {
    async start() {
      await consumer.connect();
      // fromBeginning: a group with no committed offsets must still run the tasks queued before it.
      await consumer.subscribe({ topics: [deps.tasksTopic], fromBeginning: true });
      await consumer.run({ eachMessage });
    },
    stop(drainMs) {
      stopping ??= (async () => {
        const deadline = setTimeout(() => shutdown.abort(), drainMs);
        try {
          await consumer.disconnect();
        } finally {
          clearTimeout(deadline);
        }
      })();
      return stopping;
    },
    isReady: () => joined,
  };
}
