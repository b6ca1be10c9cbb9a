import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';

// Express routes paths whatever their case: /ADMIN/queues is the dashboard too.
const OPERATIONS = /^\/(admin|metrics)(\/|$)/i;

/**
 * Cross-origin access for the platform's web apps (CORS_ORIGINS): those origins may call the API
 * from a browser with their bearer token (no cookies, so no credentials mode); every other origin
 * gets no CORS headers and the browser keeps the answer from it. The operations surface is never
 * shared: its login is a browser-held credential. Returns whether the request's origin is shared.
 */
export function corsHeaders(allowedOrigins: readonly string[]): (req: IncomingMessage, path: string, res: ServerResponse) => boolean {
  const allowed = new Set(allowedOrigins);
  return (req, path, res) => {
    const origin = req.headers.origin;
    if (!origin || !allowed.has(origin) || OPERATIONS.test(path)) return false;
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Vary', 'Origin');
    res.setHeader('Access-Control-Expose-Headers', 'Retry-After, X-Request-Id, Location');
    return true;
  };
}

/** corsHeaders as middleware, answering a shared origin's preflight requests itself. */
export function cors(allowedOrigins: readonly string[]): RequestHandler {
  const shared = corsHeaders(allowedOrigins);
  return (req, res, next) => {
    if (!shared(req, req.path, res)) return next();
    if (req.method === 'OPTIONS' && req.get('access-control-request-method')) {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, DELETE');
      res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, Content-Encoding, Idempotency-Key, X-Request-Id');
      res.setHeader('Access-Control-Max-Age', '600');
      return void res.status(204).end();
    }
    next();
  };
}
