import { laneOf } from '../shared/lanes/priority';
import type { IHeaders, KafkaMessage, Message, TopicMessages } from 'kafkajs';
import { planDelay, RELEASE_AT_HEADER } from '../shared/kafka/delay-tiers';
import { laneTopic, type KafkaNames } from '../shared/kafka/names';
import { identityOf, type Transition } from '../shared/redis/task-store';
import type { TaskMessage } from '../shared/task';
import { decodeTaskMessage, PoisonMessageError } from '../shared/task-message';

/** The pure part of the scheduler: what to do with one message of a delay tier, and where it goes. */

export type Verdict =
  /** Not a delayed task; the scheduler skips it so the partition keeps moving. */
  | { kind: 'poison'; reason: string }
  /** Not to be looked at before `until` (epoch ms). */
  | { kind: 'waiting'; until: number }
  | { kind: 'due'; task: TaskMessage };

/** A due message's next stop: the tasks topic (`released`) or a shorter delay tier. */
export interface Route {
  topic: string;
  message: Message;
  task: TaskMessage;
  released: boolean;
}

/** The release-at header as epoch ms; undefined when missing, repeated or not a decimal number. */
export function readReleaseAt(headers: IHeaders | undefined): number | undefined {
  const raw = headers?.[RELEASE_AT_HEADER];
  const text = Buffer.isBuffer(raw) ? raw.toString('utf8') : typeof raw === 'string' ? raw : undefined;
  if (text === undefined || !/^\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}

/** `tierDelayMs`: the delay of the tier the message sits in. */
export function judge(message: KafkaMessage, now: number, tierDelayMs: number): Verdict {
  let task: TaskMessage;
  try {
    task = decodeTaskMessage(message.value);
  } catch (err) {
    if (err instanceof PoisonMessageError) return { kind: 'poison', reason: err.message };
    throw err;
  }
  const releaseAt = readReleaseAt(message.headers);
  if (releaseAt === undefined) return { kind: 'poison', reason: `no valid "${RELEASE_AT_HEADER}" header` };
  // planDelay never sets a release time more than one tier delay ahead; a later one comes from a
  // skewed clock or a bug, and honouring it could hold the whole partition for ever. Waiting one
  // tier delay is safe: the task's own runAt is checked again when it comes out.
  const until = Math.min(releaseAt, now + tierDelayMs);
  return until > now ? { kind: 'waiting', until } : { kind: 'due', task };
}

/** Value and key travel unchanged, so a task keeps its partition key and its exact bytes. */
export function route(
  task: TaskMessage,
  message: KafkaMessage,
  now: number,
  names: Pick<KafkaNames, 'lanes' | 'delayTiers'>,
): Route {
  const { [RELEASE_AT_HEADER]: _old, ...headers } = message.headers ?? {};
  const plan = task.runAt === undefined ? undefined : planDelay(task.runAt, now, names.delayTiers);
  const base = { key: message.key, value: message.value };
  if (!plan)
    return { topic: laneTopic(names, laneOf(task)), released: true, task, message: { ...base, headers } };
  return {
    topic: plan.topic,
    released: false,
    task,
    message: { ...base, headers: { ...headers, [RELEASE_AT_HEADER]: String(plan.releaseAt) } },
  };
}

/** One sendBatch request; messages for the same topic keep their order. */
export function byTopic(routes: readonly Route[]): TopicMessages[] {
  const topics = new Map<string, Message[]>();
  for (const { topic, message } of routes) {
    const messages = topics.get(topic) ?? [];
    messages.push(message);
    topics.set(topic, messages);
  }
  return [...topics].map(([topic, messages]) => ({ topic, messages }));
}

/** Records of tasks that reached the tasks topic; the store ignores any a worker already moved on. */
export function queuedTransitions(tasks: readonly TaskMessage[], at: Date): Transition[] {
  return tasks.map((task) => ({
    ...identityOf(task),
    status: 'queued',
    attempt: 0,
    at,
  }));
}
