import type { IncomingMessage } from 'node:http';
import type { Readable, Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { parse as parseContentType } from 'content-type';
import type { RequestHandler } from 'express';
import { AppError, ValidationError } from '../errors';

/** Bodies are small JSON objects; anything bigger is refused before it is parsed. */
export const BODY_LIMIT = 8 * 1024; // bytes

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/;

/**
 * JSON in UTF-8 only: no charset, or utf-8. body-parser decodes other charsets it knows (utf-16,
 * utf-7...), so a body whose bytes spell nothing suspicious could decode to anything, past any
 * filter in front of the API that reads bytes. The header is read by the parser body-parser itself
 * uses, so a spelling it would decode (`charset = utf-16le`, a repeated parameter) cannot pass here
 * as UTF-8; `utf8` is refused because body-parser refuses it. The refusal is a 415.
 */
export function jsonTypeProblem(contentType: string | undefined): AppError | undefined {
  const { type, parameters } = parseContentType(contentType ?? '');
  const charset = parameters.charset?.toLowerCase();
  if (JSON_TYPE.test(type.toLowerCase()) && (charset === undefined || charset === 'utf-8')) return undefined;
  return new AppError({ code: 'unsupported_media_type', status: 415, message: 'Send the body as UTF-8 application/json' });
}

const requireJson: RequestHandler = (req, _res, next) => next(jsonTypeProblem(req.get('content-type')));

/**
 * A UTF-8 body read strictly, as express.json would: a byte-order mark dropped, an empty body as
 * `{}`, only an object or an array at the top. Anything else is a 400 `invalid_json`.
 */
export function parseJsonBody(bytes: Buffer): unknown {
  const text = bytes.toString('utf8').replace(/^\uFEFF/, '');
  if (text.length === 0) return {};
  const first = /^[\x20\x09\x0a\x0d]*(.)/.exec(text)?.[1];
  try {
    if (first !== '{' && first !== '[') throw new SyntaxError('not an object or array');
    return JSON.parse(text) as unknown;
  } catch {
    throw new ValidationError('The body is not valid JSON', { code: 'invalid_json' });
  }
}

// A Map, not an object: a header value such as `constructor` must not find what every object has.
const DECODERS = new Map<string, (() => Transform) | undefined>([
  ['identity', undefined],
  ['gzip', () => createGunzip()],
  ['deflate', () => createInflate()],
  ['br', () => createBrotliDecompress()],
]);

// Refused midway, the rest of the body is not read: the connection closes after the answer.
const tooLarge = (midway = false) =>
  new AppError({ code: 'payload_too_large', status: 413, message: 'The body is too large', headers: midway ? CLOSE : undefined });
const CLOSE = { Connection: 'close' };
const unreadable = () => new AppError({ code: 'bad_request', status: 400, message: 'The request could not be read' });

/**
 * A request's body, whole and decoded (identity, gzip, deflate or br, as body-parser takes them),
 * for both paths of the API. It may take `req.bodyTimeoutMs` to arrive from when the route starts
 * reading it (after the token and the rate limit); past that it is a 408, with the connection
 * closed (the rest of the upload is not waited for). The Redis deadline starts again once it is
 * read: a slow upload must not spend what the enqueue needs. Over `limit` bytes decoded (or
 * declared) is a 413; a body cut off, or that does not decode, a 400.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (!DECODERS.has(encoding)) {
      return reject(new AppError({ code: 'unsupported_media_type', status: 415, message: 'Send the body as UTF-8 application/json' }));
    }
    const declared = Number(req.headers['content-length']);
    if (encoding === 'identity' && declared > limit) return reject(tooLarge());
    if (req.destroyed) return reject(unreadable());
    const decoder = DECODERS.get(encoding)?.();
    const source: Readable = decoder ? req.pipe(decoder) : req;
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (error?: AppError) => {
      clearTimeout(timer);
      source.off('data', onData).off('end', onEnd).off('error', onError);
      req.off('close', onClose).off('error', onError);
      if (!error) return resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
      if (decoder) {
        // Refused midway, the decoder may still hold input: destroyed, it decodes no more of it, and
        // an error it would still raise (the bytes after the limit corrupt) finds a listener.
        req.unpipe(decoder);
        decoder.on('error', () => undefined).destroy();
      }
      req.pause();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return finish(tooLarge(true));
      chunks.push(chunk);
    };
    const onEnd = () => {
      req.deadline = Date.now() + req.redisBudgetMs;
      finish();
    };
    const onError = () => finish(unreadable());
    const onClose = () => {
      if (!req.complete) finish(unreadable()); // cut off before its end
    };
    const timer = setTimeout(
      () =>
        finish(
          new AppError({
            code: 'request_timeout',
            status: 408,
            message: `The body did not arrive within ${req.bodyTimeoutMs / 1000} s`,
            headers: CLOSE,
          }),
        ),
      req.bodyTimeoutMs,
    );
    source.on('data', onData).on('end', onEnd).on('error', onError);
    req.on('close', onClose).on('error', onError);
  });
}

/** The request's body parsed as JSON (parseJsonBody), read by readBody. */
export const readJsonBody = async (req: IncomingMessage, limit: number): Promise<unknown> => parseJsonBody(await readBody(req, limit));

const parseInto =
  (limit: number): RequestHandler =>
  (req, _res, next) => {
    readJsonBody(req, limit).then((body) => {
      req.body = body;
      next();
    }, next);
  };

/** For routes that take a body: a JSON content type, a size limit, objects and arrays only. */
export const jsonBodyUpTo = (limit: number): RequestHandler[] => [requireJson, parseInto(limit)];

export const jsonBody = jsonBodyUpTo(BODY_LIMIT);

/** For routes whose body is optional: no body at all is fine, any body must be JSON. */
export const optionalJsonBody: RequestHandler[] = [
  (req, res, next) => {
    const hasBody = req.get('transfer-encoding') !== undefined || Number(req.get('content-length') ?? 0) > 0;
    if (hasBody) return requireJson(req, res, (error) => (error ? next(error) : parseInto(BODY_LIMIT)(req, res, next)));
    next();
  },
];
