import { Validator } from '../../services/api/validation';
import { ApiError } from '../../services/shared/errors';

const NOW = Date.parse('2026-11-24T12:00:00.000Z');
const validator = new Validator(3);

function rejection(check: () => unknown) {
  try {
    check();
  } catch (err) {
    if (err instanceof ApiError) return { status: err.httpStatus, code: err.code, details: err.details };
    throw err;
  }
  throw new Error('expected an ApiError');
}

describe('task submission validation', () => {
  it('accepts a type alone, with defaults filled in', () => {
    expect(validator.submission({ type: 'reports.monthly' }, NOW)).toEqual({
      type: 'reports.monthly',
      payload: null,
      maxAttempts: 3,
    });
  });

  it('accepts every optional field', () => {
    expect(
      validator.submission(
        {
          type: 'email',
          payload: { to: 'a@b.c' },
          key: 'customer-1',
          maxAttempts: 5,
          timeoutMs: 1000,
          delayMs: 60_000,
          callbackUrl: 'https://hooks.example.com/done',
        },
        NOW,
      ),
    ).toEqual({
      type: 'email',
      payload: { to: 'a@b.c' },
      key: 'customer-1',
      maxAttempts: 5,
      timeoutMs: 1000,
      runAt: NOW + 60_000,
      callbackUrl: 'https://hooks.example.com/done',
    });
  });

  it('turns runAt into epoch ms, and a past runAt into "now"', () => {
    expect(validator.submission({ type: 'x', runAt: '2026-11-24T13:00:00Z' }, NOW).runAt).toBe(
      NOW + 3600_000,
    );
    expect(validator.submission({ type: 'x', runAt: '2020-01-01T00:00:00Z' }, NOW).runAt).toBeUndefined();
  });

  it('names every bad field at once', () => {
    const { status, code, details } = rejection(() =>
      validator.submission(
        { type: 'has space', maxAttempts: 0, timeoutMs: 1.5, callbackUrl: 'ftp://x', extra: true },
        NOW,
      ),
    );
    expect({ status, code }).toEqual({ status: 422, code: 'validation_failed' });
    expect(details.map((d) => d.field).sort()).toEqual(
      ['callbackUrl', 'extra', 'maxAttempts', 'timeoutMs', 'type'].sort(),
    );
  });

  it('names the missing type', () => {
    expect(rejection(() => validator.submission({ payload: {} }, NOW)).details).toEqual([
      { field: 'type', message: 'required' },
    ]);
  });

  it('refuses delayMs and runAt together, and runAt too far ahead', () => {
    expect(
      rejection(() => validator.submission({ type: 'x', delayMs: 1, runAt: '2026-11-25T00:00:00Z' }, NOW))
        .details,
    ).toEqual([{ field: 'runAt', message: 'give delayMs or runAt, not both' }]);
    expect(
      rejection(() => validator.submission({ type: 'x', runAt: '2027-06-01T00:00:00Z' }, NOW)).details,
    ).toEqual([{ field: 'runAt', message: 'at most 30 days ahead' }]);
  });

  it('rejects a body that is not an object, without a field name', () => {
    expect(rejection(() => validator.submission([{ type: 'echo' }], NOW)).details).toEqual([
      { message: 'must be a JSON object' },
    ]);
  });

  it('enforces the task type allow-list when one is configured', () => {
    const strict = new Validator(3, { allowedTypes: new Set(['echo']) });
    expect(strict.submission({ type: 'echo' }, NOW).type).toBe('echo');
    expect(rejection(() => strict.submission({ type: 'rm-rf' }, NOW)).details).toEqual([
      { field: 'type', message: 'unknown task type "rm-rf"' },
    ]);
  });

  it('names a batch item that is not an object by its position', () => {
    expect(rejection(() => validator.submission('echo', NOW, 'tasks[0].')).details).toEqual([
      { field: 'tasks[0]', message: 'must be a JSON object' },
    ]);
  });

  it('prefixes batch item fields with their position', () => {
    expect(rejection(() => validator.submission({ type: 1 }, NOW, 'tasks[2].')).details).toEqual([
      { field: 'tasks[2].type', message: 'must be string' },
    ]);
  });
});

describe('batch envelope validation', () => {
  it('returns the items unchecked, so each is judged on its own', () => {
    expect(validator.batch({ tasks: [{ type: 'a' }, { nonsense: true }] })).toHaveLength(2);
  });

  it('rejects an empty batch, a batch over the limit, and a missing tasks array', () => {
    expect(rejection(() => validator.batch({ tasks: [] })).details[0]).toMatchObject({ field: 'tasks' });
    expect(rejection(() => validator.batch({ tasks: [{}, {}, {}, {}] })).details[0]).toEqual({
      field: 'tasks',
      message: 'must NOT have more than 3 items',
    });
    expect(rejection(() => validator.batch({})).details).toEqual([{ field: 'tasks', message: 'required' }]);
  });
});
