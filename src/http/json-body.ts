import express, { type RequestHandler } from 'express';
import { AppError } from '../errors';

/** Bodies are small JSON objects; anything bigger is refused before it is parsed. */
export const BODY_LIMIT = '8kb';

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/;

/**
 * JSON in UTF-8 only: no charset, or utf-8. body-parser decodes other charsets it knows (utf-16,
 * utf-7...), so a body whose bytes spell nothing suspicious could decode to anything, past any
 * filter in front of the API that reads bytes.
 */
const requireJson: RequestHandler = (req, _res, next) => {
  const [type = '', ...parameters] = (req.get('content-type') ?? '').split(';').map((part) => part.trim().toLowerCase());
  const charset = parameters
    .find((p) => p.startsWith('charset='))
    ?.slice('charset='.length)
    .replace(/^"(.*)"$/, '$1');
  if (JSON_TYPE.test(type) && (charset === undefined || charset === 'utf-8' || charset === 'utf8')) return next();
  next(new AppError({ code: 'unsupported_media_type', status: 415, message: 'Send the body as UTF-8 application/json' }));
};

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
