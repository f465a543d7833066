import { randomUUID } from 'node:crypto';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { ApiError, UnavailableError } from '../shared/errors';
import { isRedisUnavailable } from '../shared/redis/connect';
import type { Logger } from '../shared/logger';
import type { ApiEvents } from './events';

/** Express middleware shared by every route: request ids, metrics, and the one error shape. */

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
  }
}

export function requestContext(events: ApiEvents, logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    req.id = incoming && /^[\w.-]{1,128}$/.test(incoming) ? incoming : randomUUID();
    res.set('X-Request-Id', req.id);
    const started = performance.now();
    res.on('finish', () => {
      // The route template, never the raw path: ids in paths would create a series per task.
      const route = req.route ? String(req.route.path) : 'unmatched';
      const seconds = (performance.now() - started) / 1000;
      events.httpRequest(req.method, route, res.statusCode, seconds);
      // Debug: under a burst, a line per request would cost more than the request.
      logger.debug('request', {
        requestId: req.id,
        method: req.method,
        route,
        status: res.statusCode,
        seconds,
      });
    });
    next();
  };
}

export const requireJson: RequestHandler = (req, _res, next) => {
  // No body at all is not a wrong media type: say what is missing.
  if (!req.get('transfer-encoding') && Number(req.get('content-length') ?? 0) === 0) {
    throw new ApiError(422, 'validation_failed', 'the body is empty: send the task as JSON', [
      { field: 'body', message: 'required' },
    ]);
  }
  if (!req.is('application/json')) {
    throw new ApiError(415, 'unsupported_media_type', 'send the body as application/json', [
      { field: 'Content-Type', message: `got "${req.get('content-type') ?? 'none'}"` },
    ]);
  }
  next();
};

/** A known path asked with a method it does not serve: 405, with the methods it does in `Allow`. */
class MethodNotAllowedError extends ApiError {
  constructor(
    method: string,
    path: string,
    readonly allow: string[],
  ) {
    super(405, 'method_not_allowed', `${method} is not allowed on ${path}`, [
      { field: 'method', message: `allowed: ${allow.join(', ')}` },
    ]);
  }
}

interface RouteLayer {
  route?: { methods: Record<string, boolean> };
  match(path: string): boolean;
  handle?: { stack?: RouteLayer[] };
}

/** The methods the app's routes serve for `path` (routers mounted at the root, as ours are). */
function methodsFor(stack: RouteLayer[], path: string, found = new Set<string>()): Set<string> {
  for (const layer of stack) {
    if (layer.route) {
      if (!layer.match(path)) continue;
      for (const method of Object.keys(layer.route.methods)) found.add(method.toUpperCase());
      // Express answers HEAD wherever it answers GET.
      if (layer.route.methods.get) found.add('HEAD');
    } else if (layer.handle?.stack) {
      methodsFor(layer.handle.stack, path, found);
    }
  }
  return found;
}

export const notFound: RequestHandler = (req) => {
  const allow = [
    ...methodsFor((req.app as unknown as { router: { stack: RouteLayer[] } }).router.stack, req.path),
  ];
  if (allow.length > 0) throw new MethodNotAllowedError(req.method, req.path, allow);
  throw new ApiError(404, 'route_not_found', `no route for ${req.method} ${req.path}`);
};

/** Errors from body-parser carry a `type`; map the ones a client caused to their status. */
function fromBodyParser(err: { type?: string; limit?: number }): ApiError | undefined {
  if (err.type === 'entity.parse.failed')
    return new ApiError(400, 'invalid_json', 'the body is not valid JSON');
  if (err.type === 'entity.too.large') {
    return new ApiError(413, 'payload_too_large', `the body is larger than ${err.limit} bytes`);
  }
  if (err.type === 'encoding.unsupported' || err.type === 'charset.unsupported') {
    return new ApiError(415, 'unsupported_media_type', 'the body must be UTF-8 JSON');
  }
  return undefined;
}

/**
 * Any other error Express or body-parser marks as the client's (a 4xx `status`: a path with bad
 * percent-encoding, a body shorter than its Content-Length, a corrupt gzip body): a 400, never a 500.
 */
function fromClientError(err: { status?: unknown; statusCode?: unknown }): ApiError | undefined {
  const status = Number(err.status ?? err.statusCode);
  if (!(status >= 400 && status < 500)) return undefined;
  return new ApiError(400, 'bad_request', 'the request is malformed');
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const known =
      err instanceof ApiError
        ? err
        : isRedisUnavailable(err)
          ? new UnavailableError('Redis is unavailable; try again')
          : (fromBodyParser((err ?? {}) as { type?: string }) ?? fromClientError((err ?? {}) as object));
    const apiError =
      known ?? new ApiError(500, 'internal', 'something went wrong; the request id is in the logs');
    if (!(err instanceof ApiError)) {
      // A client's malformed request is its problem, and logging each at error level would let
      // anyone fill the logs.
      const fields = { requestId: req.id, path: req.path, error: String(err) };
      if (apiError.httpStatus < 500) logger.debug('request failed', fields);
      else logger.error('request failed', fields);
    }
    if (apiError.retryAfterSeconds !== undefined) res.set('Retry-After', String(apiError.retryAfterSeconds));
    if (apiError instanceof MethodNotAllowedError) res.set('Allow', apiError.allow.join(', '));
    res.status(apiError.httpStatus).json({
      error: { code: apiError.code, message: apiError.message, details: apiError.details },
    });
  };
}

/** `?limit=N` of a paged listing: 1 to `max`, `fallback` when absent; 422 naming `limit` otherwise. */
export function pageLimit(raw: unknown, max: number, fallback = 50): number {
  if (raw === undefined) return fallback;
  const limit = typeof raw === 'string' && /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
  if (!(limit >= 1 && limit <= max)) {
    throw new ApiError(422, 'validation_failed', 'the limit parameter is not valid', [
      { field: 'limit', message: `an integer from 1 to ${max}` },
    ]);
  }
  return limit;
}
