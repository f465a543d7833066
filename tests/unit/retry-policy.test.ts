import type { AttemptFailure } from '../../services/shared/task';
import { boundedHistory, MAX_HISTORY, retryDelayMs, toTaskError } from '../../services/worker/retry-policy';

/** What a failure carries into the task's next message and its dead letter stays bounded. */
describe('retry policy', () => {
  it('cuts an error message and name a handler made huge', () => {
    const err = new Error('x'.repeat(1_000_000));
    err.name = 'N'.repeat(1000);
    const { name, message } = toTaskError(err);
    expect(message).toHaveLength(2048);
    expect(message.endsWith('…')).toBe(true);
    expect(name).toHaveLength(128);
    expect(toTaskError('plain')).toEqual({ name: 'Error', message: 'plain' });
  });

  it('keeps the most recent failures of a long history', () => {
    const failures: AttemptFailure[] = Array.from({ length: 100 }, (_, i) => ({
      attempt: i + 1,
      startedAt: i,
      finishedAt: i,
      error: { name: 'Error', message: `attempt ${i + 1}` },
    }));
    const kept = boundedHistory(failures);
    expect(kept).toHaveLength(MAX_HISTORY);
    expect(kept.map((f) => f.attempt)).toEqual(
      Array.from({ length: MAX_HISTORY }, (_, i) => 100 - MAX_HISTORY + i + 1),
    );
    expect(boundedHistory(failures.slice(0, 3))).toEqual(failures.slice(0, 3));
  });

  it('backs off exponentially with jitter, within its bounds', () => {
    const policy = { baseDelayMs: 1000, maxDelayMs: 60_000 };
    expect(retryDelayMs(1, policy, () => 1)).toBe(1000);
    expect(retryDelayMs(4, policy, () => 1)).toBe(8000);
    expect(retryDelayMs(40, policy, () => 1)).toBe(60_000);
    expect(retryDelayMs(4, policy, () => 0)).toBe(500);
  });
});
