import type { KafkaMessage } from 'kafkajs';
import { planDelay, RELEASE_AT_HEADER } from '../../services/shared/kafka/delay-tiers';
import { kafkaNames } from '../../services/shared/kafka/names';
import { encodeTaskMessage } from '../../services/shared/task-message';
import type { TaskMessage } from '../../services/shared/task';
import { byTopic, judge, readReleaseAt, route } from '../../services/worker/scheduler-batch';

const names = kafkaNames('unit');
const tiers = names.delayTiers;
const topicOf = (delayMs: number) => tiers.find((tier) => tier.delayMs === delayMs)!.topic;
const NOW = 1_700_000_000_000;

describe('planDelay', () => {
  it.each([
    [1_000, 1_000],
    [9_999, 1_000],
    [10_000, 10_000],
    [59_000, 10_000],
    [60_000, 60_000],
    [45 * 60_000, 600_000],
    [3_600_000, 3_600_000],
    [30 * 24 * 3_600_000, 3_600_000],
  ])('waits %d ms ahead in the longest tier that fits (%d ms)', (remaining, tierMs) => {
    expect(planDelay(NOW + remaining, NOW, tiers)).toEqual({
      topic: topicOf(tierMs),
      releaseAt: NOW + tierMs,
    });
  });

  it('never releases after runAt', () => {
    for (let remaining = 1; remaining <= 4_000_000; remaining = Math.ceil(remaining * 1.7)) {
      const plan = planDelay(NOW + remaining, NOW, tiers)!;
      expect(plan.releaseAt).toBeLessThanOrEqual(NOW + remaining);
      expect(plan.releaseAt).toBeGreaterThan(NOW);
    }
  });

  it('waits in the shortest tier until runAt itself when less than the shortest delay remains', () => {
    expect(planDelay(NOW + 400, NOW, tiers)).toEqual({ topic: topicOf(1_000), releaseAt: NOW + 400 });
    expect(planDelay(NOW + 1, NOW, tiers)).toEqual({ topic: topicOf(1_000), releaseAt: NOW + 1 });
  });

  it('returns undefined when the task is due', () => {
    expect(planDelay(NOW, NOW, tiers)).toBeUndefined();
    expect(planDelay(NOW - 5_000, NOW, tiers)).toBeUndefined();
  });

  it('fails loudly without tiers', () => {
    expect(() => planDelay(NOW + 5_000, NOW, [])).toThrow('no delay tiers configured');
  });
});

describe('reading a delay tier message', () => {
  const task: TaskMessage = {
    id: 't1',
    type: 'echo',
    payload: { n: 1 },
    enqueuedAt: NOW - 60_000,
    maxAttempts: 3,
    key: 'k',
    runAt: NOW + 5_000,
  };
  const message = (value: Buffer | null, headers: KafkaMessage['headers'] = {}): KafkaMessage =>
    ({ key: Buffer.from('k'), value, headers, offset: '7', timestamp: String(NOW) }) as KafkaMessage;
  const withReleaseAt = (releaseAt: string | number) =>
    message(encodeTaskMessage(task), { [RELEASE_AT_HEADER]: Buffer.from(String(releaseAt)), trace: 'x' });

  it('reads the release-at header as epoch ms, rejecting anything but a decimal number', () => {
    expect(readReleaseAt({ [RELEASE_AT_HEADER]: Buffer.from(String(NOW)) })).toBe(NOW);
    expect(readReleaseAt({ [RELEASE_AT_HEADER]: String(NOW) })).toBe(NOW);
    for (const bad of ['', 'soon', '-5', '1e12', '12.5', ' 12'])
      expect(readReleaseAt({ [RELEASE_AT_HEADER]: Buffer.from(bad) })).toBeUndefined();
    expect(readReleaseAt({ [RELEASE_AT_HEADER]: ['1', '2'] })).toBeUndefined();
    expect(readReleaseAt(undefined)).toBeUndefined();
  });

  it('is waiting before its release time and due from it on', () => {
    expect(judge(withReleaseAt(NOW + 800), NOW, 1_000)).toEqual({ kind: 'waiting', until: NOW + 800 });
    expect(judge(withReleaseAt(NOW), NOW, 1_000)).toEqual({ kind: 'due', task });
    expect(judge(withReleaseAt(NOW - 1), NOW, 1_000)).toEqual({ kind: 'due', task });
  });

  it('waits at most one tier delay, whatever the header says', () => {
    expect(judge(withReleaseAt(NOW + 3_600_000), NOW, 10_000)).toEqual({
      kind: 'waiting',
      until: NOW + 10_000,
    });
  });

  it('calls a bad value or a missing or bad header poison', () => {
    expect(judge(message(Buffer.from('not json'), { [RELEASE_AT_HEADER]: String(NOW) }), NOW, 1_000)).toEqual(
      { kind: 'poison', reason: 'not a task message: value is not JSON' },
    );
    expect(judge(message(encodeTaskMessage(task)), NOW, 1_000)).toMatchObject({ kind: 'poison' });
    expect(judge(withReleaseAt('later'), NOW, 1_000)).toMatchObject({ kind: 'poison' });
  });

  it('releases a due task to the tasks topic with its value and key, without the release-at header', () => {
    const original = withReleaseAt(NOW);
    const next = route({ ...task, runAt: NOW }, original, NOW, names);
    expect(next.released).toBe(true);
    expect(next.topic).toBe(names.tasksTopic);
    expect(next.message).toEqual({ key: original.key, value: original.value, headers: { trace: 'x' } });
  });

  it('re-delays a task that is not due to the tier planDelay names, with a new release time', () => {
    const next = route(task, withReleaseAt(NOW - 10_000), NOW, names);
    expect(next.released).toBe(false);
    expect(next.topic).toBe(topicOf(1_000));
    expect(next.message.headers).toEqual({ trace: 'x', [RELEASE_AT_HEADER]: String(NOW + 1_000) });
  });

  it('releases a task without runAt at once', () => {
    const { runAt: _runAt, ...undated } = task;
    expect(route(undated, withReleaseAt(NOW), NOW, names).topic).toBe(names.tasksTopic);
  });

  it('groups a run by topic, keeping each topic in order', () => {
    const routes = [3, 1, 2].map((n) => ({
      topic: n === 1 ? 'b' : 'a',
      released: true,
      task,
      message: { value: String(n) },
    }));
    expect(byTopic(routes)).toEqual([
      { topic: 'a', messages: [{ value: '3' }, { value: '2' }] },
      { topic: 'b', messages: [{ value: '1' }] },
    ]);
  });
});
