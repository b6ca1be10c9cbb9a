import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler } from 'express';
import type { Logger } from '../ops/logger';
import type { Metrics } from '../ops/metrics';
import { securityHeaders } from './security-headers';

declare module 'node:http' {
  interface IncomingMessage {
    /** The request id: the caller's X-Request-Id when it is a sane token, else a fresh UUID. */
    id?: string;
    /**
     * When this request stops waiting on Redis (epoch ms), set at its arrival: the rate limit, the
     * enqueue and the feed's state share it, so however slow Redis is, the answer (a 503 at worst)
     * leaves within one budget rather than one per call.
     */
    deadline: number;
    /** The Redis budget `deadline` gives, from the arrival and again once the body is read (readBody). */
    redisBudgetMs: number;
    /** How long the body may take to arrive (BODY_TIMEOUT_MS): past it, a 408. */
    bodyTimeoutMs: number;
    /** The logger that requestLog binds to this request, and its binding once made. */
    [LOGGER]?: Logger;
    [BOUND]?: Logger;
  }
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;
const LOGGER = Symbol('logger');
const BOUND = Symbol('bound logger');

/** The request as its log lines show it; the logger redacts the credentials among its headers. */
function describe(req: IncomingMessage) {
  return { id: req.id, method: req.method, url: req.url, headers: req.headers, remoteAddress: req.socket.remoteAddress };
}

export interface RequestContextOptions {
  logger: Logger;
  metrics: Metrics;
  budgetMs: number;
  bodyTimeoutMs: number;
  draining: () => boolean;
}

/**
 * What every request gets, with one listener (each middleware and listener per request is CPU the
 * API spends before its own work): its deadline (`budgetMs`, ENQUEUE_TIMEOUT_MS, from its
 * arrival, and again once its body is read), how long its body may take (`bodyTimeoutMs`), its
 * id (the caller's X-Request-Id if sane, returned), the security headers for its `path`, `Connection: close` while the process drains, its duration in the metrics under `route`,
 * and, once answered, one log line: `info`, or `error` for a 5xx. The logger bound to the request
 * (requestLog) is made only when something logs through it: binding every request, as pino-http
 * does, costs CPU even at `warn`, where nothing is written.
 */
export function requestTracker({ logger, metrics, budgetMs, bodyTimeoutMs, draining }: RequestContextOptions) {
  const headers = securityHeaders();
  return (req: IncomingMessage, res: ServerResponse, path: string, route: (req: IncomingMessage) => string): void => {
    const started = performance.now();
    req.deadline = Date.now() + budgetMs;
    req.redisBudgetMs = budgetMs;
    req.bodyTimeoutMs = bodyTimeoutMs;
    const given = req.headers['x-request-id'];
    req.id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    req[LOGGER] = logger;
    res.setHeader('X-Request-Id', req.id);
    headers(path, res);
    // While the process drains after SIGTERM, clients are told not to reuse their connection, so
    // none sends a request on a socket that is about to close.
    if (draining()) res.setHeader('Connection', 'close');
    const logging = logger.isLevelEnabled('info');
    const done = () => {
      res.off('finish', done);
      if (logging) res.off('close', done);
      const ms = performance.now() - started;
      metrics.observeRequest(req.method ?? 'GET', route(req), res.statusCode, ms / 1000);
      // A 503 (a dependency away) is an outage's, logged by its state changes (OutageLog): per
      // request it is an ordinary access line.
      const level = res.statusCode >= 500 && res.statusCode !== 503 ? 'error' : 'info';
      if (level === 'info' ? !logging : !logger.isLevelEnabled(level)) return;
      const line = { res: { statusCode: res.statusCode, headers: res.getHeaders() }, responseTime: Math.round(ms) };
      requestLog(req)[level](line, res.writableFinished ? 'request completed' : 'request aborted');
    };
    res.on('finish', done);
    if (logging) res.on('close', done);
  };
}

/** requestTracker as the Express app's first middleware; the metrics label is the matched route's pattern. */
export function requestContext(options: RequestContextOptions): RequestHandler {
  const track = requestTracker(options);
  return (req, res, next) => {
    track(req, res, req.path, routePattern);
    next();
  };
}

/** The pattern of the route that answered (never the raw URL: ids would explode the metric's series). */
function routePattern(incoming: IncomingMessage): string {
  const req = incoming as Request;
  return req.route ? `${req.baseUrl}${String(req.route.path)}` : req.baseUrl || 'unmatched';
}

/** The logger bound to this request (its id, method, URL, headers), made on first use; `fallback` outside requestContext. */
export function requestLog(req: IncomingMessage, fallback?: Logger): Logger {
  const base = req[LOGGER] ?? fallback;
  if (!base) throw new Error('requestLog: no logger for this request');
  return (req[BOUND] ??= base.child({ req: describe(req) }));
}

/**
 * What the domain may log about a request, bound to it only if it does (see requestLog): a
 * request that logs nothing should not pay for the binding.
 */
export function requestLogger(req: IncomingMessage): Pick<Logger, 'warn'> {
  return { warn: (...args: Parameters<Logger['warn']>) => requestLog(req).warn(...args) } as Pick<Logger, 'warn'>;
}
