/**
 * Errors that decide what happens next. The API turns `ApiError` into its HTTP status and the
 * one JSON error shape; anything else becomes a 500 with a generic message.
 */

export interface ErrorDetail {
  /** The request field at fault, as a JSON path (`payload.ms`, `type`). */
  field?: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly httpStatus: number,
    /** Stable, machine-readable; clients switch on it. Never change an existing one. */
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
    /** Seconds a client should wait before trying again (sent as Retry-After). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Kafka did not acknowledge in time or is unreachable: nothing was accepted, try again. */
export class UnavailableError extends ApiError {
  constructor(message: string, retryAfterSeconds = 1) {
    super(503, 'unavailable', message, [], retryAfterSeconds);
    this.name = 'UnavailableError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
