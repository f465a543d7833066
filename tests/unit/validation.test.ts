import { ApiError } from '../../services/shared/errors';
import { parseSubmission } from '../../services/api/validation';

function detailsOf(body: unknown) {
  try {
    parseSubmission(body);
  } catch (err) {
    if (err instanceof ApiError) return { status: err.httpStatus, code: err.code, details: err.details };
    throw err;
  }
  throw new Error('expected an ApiError');
}

describe('task submission validation', () => {
  it('accepts a type with a payload, and a missing payload as null', () => {
    expect(parseSubmission({ type: 'echo', payload: { a: 1 } })).toEqual({ type: 'echo', payload: { a: 1 } });
    expect(parseSubmission({ type: 'reports.monthly' })).toEqual({ type: 'reports.monthly', payload: null });
  });

  it('names the missing type', () => {
    expect(detailsOf({ payload: {} })).toEqual({
      status: 422,
      code: 'validation_failed',
      details: [{ field: 'type', message: expect.stringContaining('required') }],
    });
  });

  it('names every bad field at once', () => {
    const { details } = detailsOf({ type: 'has space', extra: 1, another: 2 });
    expect(details.map((d) => d.field)).toEqual(['type', 'extra', 'another']);
  });

  it('rejects a body that is not an object', () => {
    expect(detailsOf([{ type: 'echo' }]).status).toBe(422);
    expect(detailsOf('echo').status).toBe(422);
  });
});
