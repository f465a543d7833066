import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import { UnavailableError } from '../shared/errors';
import { encodeTaskMessage } from '../shared/task-message';
import type { TaskMessage } from '../shared/task';
import { TimeoutError, withTimeout } from '../shared/timeout';

/** Puts task messages on the tasks topic; resolves only once Kafka acknowledged all of them. */
export interface TaskPublisher {
  publish(messages: TaskMessage[]): Promise<void>;
}

export class KafkaTaskPublisher implements TaskPublisher {
  private readonly producer: Producer;
  private closing?: Promise<void>;

  constructor(
    kafka: Kafka,
    private readonly topic: string,
    private readonly timeoutMs: number,
  ) {
    // Idempotent: a retried send cannot write a task twice. kafkajs needs one request in flight
    // for that, as it cannot renumber sequences after a failure.
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  async publish(messages: TaskMessage[]): Promise<void> {
    const send = this.producer.send({
      topic: this.topic,
      acks: -1,
      timeout: this.timeoutMs,
      messages: messages.map((message) => ({ value: encodeTaskMessage(message) })),
    });
    try {
      await withTimeout(send, this.timeoutMs, 'kafka send');
    } catch (err) {
      // The send may still land after we gave up; the client then retries and may create a
      // duplicate, but it never holds an id for a task Kafka did not acknowledge.
      send.catch(() => undefined);
      const why = err instanceof TimeoutError ? 'Kafka did not acknowledge in time' : 'Kafka is unreachable';
      throw new UnavailableError(`${why}; the task was not accepted, try again`);
    }
  }

  disconnect(): Promise<void> {
    this.closing ??= this.producer.disconnect();
    return this.closing;
  }
}
