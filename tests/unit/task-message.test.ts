import { decodeTaskMessage, encodeTaskMessage, PoisonMessageError } from '../../services/shared/task-message';

describe('task message wire format', () => {
  it('round-trips a task', () => {
    const task = {
      id: 'a1',
      type: 'echo',
      payload: { n: 1, list: [true, null] },
      enqueuedAt: 1_700_000_000_000,
    };
    expect(decodeTaskMessage(encodeTaskMessage(task))).toEqual(task);
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
