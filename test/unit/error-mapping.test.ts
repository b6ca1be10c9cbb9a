import { UnauthorizedError as JwtError } from 'express-jwt';
import { DBError, UniqueViolationError } from 'objection';
import { NotFoundError, ServiceUnavailableError } from '../../src/errors';
import { isDatabaseUnavailable, toAppError } from '../../src/http/errors';

// db-errors' constructors take an options object; their published types say a message.
const dbError = <T>(type: T, options: object) => new (type as unknown as new (options: object) => Error)(options);

const shape = (error: unknown) => {
  const mapped = toAppError(error);
  return { status: mapped.status, code: mapped.code, message: mapped.message, headers: mapped.headers };
};

describe('what a thrown error becomes for the client', () => {
  test("the service's own errors keep their status, code and headers", () => {
    expect(shape(new NotFoundError('No event e1', { code: 'event_not_found' }))).toMatchObject({ status: 404, code: 'event_not_found' });
    expect(shape(new ServiceUnavailableError('later', { retryAfterSeconds: 2 }))).toMatchObject({
      status: 503,
      headers: { 'Retry-After': '2' },
    });
  });

  test('token errors are 401 with a Bearer challenge, and say whether the token expired', () => {
    const expired = new JwtError('invalid_token', Object.assign(new Error('jwt expired'), { name: 'TokenExpiredError' }));
    expect(shape(expired)).toMatchObject({ status: 401, code: 'unauthorized', message: 'The token has expired' });
    expect(shape(new JwtError('credentials_required', { message: 'No authorization token was found' }))).toMatchObject({
      status: 401,
      message: 'A bearer token is required',
      headers: { 'WWW-Authenticate': 'Bearer' },
    });
  });

  test("body-parser's refusals become stable 4xx codes", () => {
    const bodyError = (type: string, status: number) => Object.assign(new Error('x'), { type, status });
    expect(shape(bodyError('entity.parse.failed', 400))).toMatchObject({ status: 400, code: 'invalid_json' });
    expect(shape(bodyError('entity.too.large', 413))).toMatchObject({ status: 413, code: 'payload_too_large' });
    expect(shape(bodyError('charset.unsupported', 415))).toMatchObject({ status: 415, code: 'unsupported_media_type' });
    expect(shape(bodyError('something.else', 400))).toMatchObject({ status: 400, code: 'bad_request' });
  });

  test('a unique violation is a 409; a database out of reach a 503 to retry', () => {
    const unique = dbError(UniqueViolationError, {
      nativeError: new Error('duplicate key'),
      client: 'postgres',
      table: 't',
      columns: ['id'],
      constraint: 'c',
      schema: undefined,
    });
    expect(shape(unique)).toMatchObject({ status: 409, code: 'conflict' });
    const refused = dbError(DBError, {
      nativeError: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      client: 'postgres',
    });
    expect(isDatabaseUnavailable(refused)).toBe(true);
    expect(shape(refused)).toMatchObject({ status: 503, code: 'service_unavailable' });
    expect(isDatabaseUnavailable(Object.assign(new Error('admin shutdown'), { code: '57P01' }))).toBe(true);
    expect(isDatabaseUnavailable(new Error('timeout expired'))).toBe(true); // pg's connect timeout: a server that does not answer
    expect(isDatabaseUnavailable(Object.assign(new Error('syntax'), { code: '42601' }))).toBe(false);
  });

  test('anything else is a 500 that reveals nothing of the error', () => {
    expect(shape(new Error('password=hunter2 at db.internal'))).toEqual({
      status: 500,
      code: 'internal_error',
      message: 'Internal server error',
      headers: {},
    });
  });
});
