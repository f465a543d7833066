import { decodeTaskMessage, encodeTaskMessage, PoisonMessageError } from '../../services/shared/task-message';

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
