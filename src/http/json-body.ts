import { parse as parseContentType } from 'content-type';
import express, { type RequestHandler } from 'express';
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
 * A UTF-8 body read as express.json reads it (strict): a byte-order mark dropped, an empty body as
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

/** For routes that take a body: a JSON content type, a size limit, objects and arrays only. */
export const jsonBodyUpTo = (limit: string | number): RequestHandler[] => [
  requireJson,
  express.json({ limit, strict: true, type: () => true }),
];

export const jsonBody = jsonBodyUpTo(BODY_LIMIT);

/** For routes whose body is optional: no body at all is fine, any body must be JSON. */
export const optionalJsonBody: RequestHandler[] = [
  (req, res, next) => {
    const hasBody = req.get('transfer-encoding') !== undefined || Number(req.get('content-length') ?? 0) > 0;
    if (hasBody) return requireJson(req, res, next);
    next();
  },
  express.json({ limit: BODY_LIMIT, strict: true, type: () => true }),
];
