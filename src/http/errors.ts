import type { IncomingMessage } from 'node:http';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { DBError, UniqueViolationError } from 'objection';
import { AppError, ConflictError, databaseUnavailable, NotFoundError, ServiceUnavailableError, ValidationError } from '../errors';
import type { Logger } from '../ops/logger';
import { OutageLog } from '../ops/outage-log';
import { fromJwtError } from './auth';
import { requestLog } from './request-context';

/** Unknown paths get the same error body as everything else. */
export const routeNotFound: RequestHandler = (req, _res, next) => {
  next(new NotFoundError(`No route for ${req.method} ${req.path}`, { code: 'route_not_found' }));
};

/**
 * The one place errors become answers: `{ "error": { "code", "message" } }`, never internals. A 503
 * (a dependency away) is logged by the outage it belongs to, not once per request with a stack.
 * `report` logs an error and gives its answer; `handler` is it as Express's error middleware. One per
 * app: both paths of the API share its outage logs.
 */
export function errorResponder(logger: Logger) {
  const outages = new Map<string, OutageLog>();
  const report = (error: unknown, req: IncomingMessage): { status: number; headers: Readonly<Record<string, string>>; body: ErrorBody } => {
    const appError = toAppError(error);
    if (appError instanceof ServiceUnavailableError) {
      const outage = outages.get(appError.message) ?? new OutageLog(logger, `requests answered 503 ("${appError.message}")`);
      outages.set(appError.message, outage);
      outage.failed(error instanceof AppError && error.cause ? error.cause : error);
    } else if (appError.status >= 500) {
      requestLog(req, logger).error({ err: error }, 'request failed');
    }
    return { status: appError.status, headers: appError.headers, body: { error: { code: appError.code, message: appError.message } } };
  };
  const handler: ErrorRequestHandler = (error, req, res, next) => {
    const answer = report(error, req);
    if (res.headersSent) return next(error);
    res.status(answer.status).set(answer.headers).json(answer.body);
  };
  return { report, handler };
}

/** errorResponder's handler alone, for an app with no other path. */
export const errorHandler = (logger: Logger): ErrorRequestHandler => errorResponder(logger).handler;

export interface ErrorBody {
  error: { code: string; message: string };
}

/** What any thrown error becomes for the client: its status, stable code and message. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const jwt = fromJwtError(error);
  if (jwt) return jwt;
  const bodyError = fromBodyParser(error);
  if (bodyError) return bodyError;
  if (error instanceof UniqueViolationError) return new ConflictError('The resource already exists');
  if (isDatabaseUnavailable(error)) return databaseUnavailable();
  return new AppError({ code: 'internal_error', status: 500, message: 'Internal server error' });
}

/**
 * Errors Express and body-parser raise about a request they cannot read (bad JSON, a bad
 * percent-encoding in the path, a corrupt compressed body) carry a 4xx `status`; body-parser's
 * also carry a `type`, mapped to a stable code.
 */
function fromBodyParser(error: unknown): AppError | undefined {
  const { type, status } = (error ?? {}) as { type?: unknown; status?: unknown };
  if (typeof status !== 'number' || status < 400 || status > 499) return undefined;
  switch (type) {
    case 'entity.parse.failed':
      return new ValidationError('The body is not valid JSON', { code: 'invalid_json' });
    case 'entity.too.large':
      return new AppError({ code: 'payload_too_large', status: 413, message: 'The body is too large' });
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new AppError({ code: 'unsupported_media_type', status: 415, message: 'Send the body as UTF-8 application/json' });
    default:
      return new AppError({ code: 'bad_request', status: 400, message: 'The request could not be read' });
  }
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);

/** PostgreSQL out of reach, restarting, or out of connections: a 503 the client may retry. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const inner = error instanceof DBError ? error.nativeError : error;
  if (!inner || typeof inner !== 'object') return false;
  const { code, name, message } = inner as { code?: unknown; name?: unknown; message?: unknown };
  if (name === 'KnexTimeoutError') return true;
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return true;
  // 'timeout expired': pg's own connectionTimeoutMillis, when a new connection finds no answer.
  return typeof message === 'string' && /Connection terminated|connection timeout|^timeout expired$/i.test(message);
}
