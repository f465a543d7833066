import {
  decodeTaskMessage,
  encodeTaskMessage,
  partitionKeyOf,
  PoisonMessageError,
} from '../../services/shared/task-message';

describe('task message wire format', () => {
  it('round-trips a task', () => {
    const task = {
      id: 'a1',
      type: 'echo',
      payload: { n: 1, list: [true, null] },
      enqueuedAt: 1_700_000_000_000,
      maxAttempts: 3,
      key: 'customer-9',
      timeoutMs: 5000,
      runAt: 1_700_000_060_000,
      callbackUrl: 'https://example.com/hook',
    };
    expect(decodeTaskMessage(encodeTaskMessage(task))).toEqual(task);
  });

  it('fills in the default attempts for a message without them', () => {
    expect(decodeTaskMessage(Buffer.from('{"id":"x","type":"echo","enqueuedAt":1}')).maxAttempts).toBe(3);
  });

  it('rejects an optional field of the wrong kind', () => {
    expect(() =>
      decodeTaskMessage(Buffer.from('{"id":"x","type":"echo","enqueuedAt":1,"runAt":"soon"}')),
    ).toThrow('"runAt" is not a number');
  });

  it.each([
    ['an empty value', null],
    ['not JSON', Buffer.from('{nope')],
    ['a JSON string', Buffer.from('"task"')],
    ['a task without an id', Buffer.from('{"type":"echo","enqueuedAt":1}')],
    ['a task without a type', Buffer.from('{"id":"x","enqueuedAt":1}')],
    ['a task without enqueuedAt', Buffer.from('{"id":"x","type":"echo"}')],
  ])('calls %s a poison message', (_name, value) => {
    expect(() => decodeTaskMessage(value)).toThrow(PoisonMessageError);
  });
});

describe("a task message's Kafka key", () => {
  const task = { id: 'a3f0c7e2-0000-4000-8000-000000000001' };

  it('is its ordering key, within its tenant, or else its id', () => {
    expect(partitionKeyOf(task)).toBe(task.id);
    expect(partitionKeyOf({ ...task, tenant: 'acme' })).toBe(task.id);
    // The default tenant's keys are as they were before tenants: queued tasks keep their order.
    expect(partitionKeyOf({ ...task, key: 'user-42' })).toBe('user-42');
    // Two tenants' "user-42" are two keys: one never waits behind the other's.
    expect(partitionKeyOf({ ...task, key: 'user-42', tenant: 'acme' })).toBe('acme/user-42');
    expect(partitionKeyOf({ ...task, key: 'user-42', tenant: 'globex' })).toBe('globex/user-42');
  });

  it('round-trips the tenant; a message without one (from before tenants) has none', () => {
    const base = { id: task.id, type: 'echo', payload: null, enqueuedAt: 1, maxAttempts: 1 };
    expect(decodeTaskMessage(encodeTaskMessage({ ...base, tenant: 'acme' })).tenant).toBe('acme');
    expect(decodeTaskMessage(encodeTaskMessage(base))).not.toHaveProperty('tenant');
  });
});
