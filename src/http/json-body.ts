import express, { type RequestHandler } from 'express';
import { AppError } from '../errors';

/** Bodies are small JSON objects; anything bigger is refused before it is parsed. */
export const BODY_LIMIT = '8kb';

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/;

const requireJson: RequestHandler = (req, _res, next) => {
  const mediaType = (req.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (JSON_TYPE.test(mediaType)) return next();
  next(new AppError({ code: 'unsupported_media_type', status: 415, message: 'Send the body as application/json' }));
};

/** For routes that take a body: a JSON content type, a size limit, objects and arrays only. */
export const jsonBody: RequestHandler[] = [requireJson, express.json({ limit: BODY_LIMIT, strict: true, type: () => true })];

/** For routes whose body is optional: no body at all is fine, any body must be JSON. */
export const optionalJsonBody: RequestHandler[] = [
  (req, res, next) => {
    const hasBody = req.get('transfer-encoding') !== undefined || Number(req.get('content-length') ?? 0) > 0;
    if (hasBody) return requireJson(req, res, next);
    next();
  },
  express.json({ limit: BODY_LIMIT, strict: true, type: () => true }),
];
