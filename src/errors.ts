import { UniqueViolationError } from 'objection';

/** What every failure a client may see is made of: a stable machine-readable code and an HTTP status. */
export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  /** Extra response headers, such as Retry-After on a 503. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(options: { code: string; status: number; message: string; headers?: Record<string, string>; cause?: unknown }) {
    super(options.message, { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.status = options.status;
    this.headers = options.headers ?? {};
  }
}

export class ValidationError extends AppError {
  constructor(message: string, options: { code?: string } = {}) {
    super({ code: options.code ?? 'validation_failed', status: 400, message });
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'A valid bearer token is required') {
    super({ code: 'unauthorized', status: 401, message, headers: { 'WWW-Authenticate': 'Bearer' } });
  }
}

export class ForbiddenError extends AppError {
  constructor(message: string) {
    super({ code: 'forbidden', status: 403, message });
  }
}

export class NotFoundError extends AppError {
  constructor(message: string, options: { code?: string } = {}) {
    super({ code: options.code ?? 'not_found', status: 404, message });
  }
}

export class ConflictError extends AppError {
  constructor(message: string, options: { code?: string } = {}) {
    super({ code: options.code ?? 'conflict', status: 409, message });
  }
}

/** A dependency (Redis, PostgreSQL) is out of reach: the client may retry shortly. */
export class ServiceUnavailableError extends AppError {
  constructor(message: string, options: { retryAfterSeconds?: number; cause?: unknown } = {}) {
    super({
      code: 'service_unavailable',
      status: 503,
      message,
      headers: { 'Retry-After': String(options.retryAfterSeconds ?? 1) },
      cause: options.cause,
    });
  }
}

/** PostgreSQL out of reach, or not answering by the request's deadline: one answer whichever it was. */
export const databaseUnavailable = () =>
  new ServiceUnavailableError('The database is unavailable; retry shortly', { retryAfterSeconds: 2 });

/** A user sent more requests than the limit allows; they may try again after Retry-After seconds. */
export class TooManyRequestsError extends AppError {
  constructor(retryAfterSeconds: number, what: 'reads' | 'writes' | 'requests' | 'failed logins' = 'requests') {
    super({
      code: 'rate_limited',
      status: 429,
      message: `Too many ${what}; retry after the time in Retry-After`,
      headers: { 'Retry-After': String(retryAfterSeconds) },
    });
  }
}

/**
 * For `.catch` after an insert: a unique violation becomes a ConflictError with this code; any
 * other error passes through.
 */
export function conflictOnDuplicate(message: string, code: string): (error: unknown) => never {
  return (error) => {
    if (error instanceof UniqueViolationError) throw new ConflictError(message, { code });
    throw error;
  };
}
