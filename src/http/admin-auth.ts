import { timingSafeEqual, createHash } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { authenticate } from './auth';
import type { Config } from '../config';
import { AppError, ForbiddenError, NotFoundError, TooManyRequestsError } from '../errors';

const BASIC_CHALLENGE = 'Basic realm="Interaction tracking operations", charset="UTF-8"';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const needCredentials = (message: string) =>
  new AppError({ code: 'unauthorized', status: 401, message, headers: { 'WWW-Authenticate': BASIC_CHALLENGE } });

/** Failed logins one client address may make per window and user name; then 429 until the window ends. */
export const LOGIN_FAILURES_PER_WINDOW = 10;
const LOGIN_WINDOW_MS = 60_000;
const REMEMBERED_CLIENTS = 10_000;

/**
 * Counts failed logins per client address and user name, for a minute from the first one, in this
 * process (bounded: the oldest are forgotten first). Past the limit every attempt from the address
 * with that name is a 429 until that minute ends, the right password too, so guessing gains nothing
 * by going on. The address is the one the trusted proxies report (TRUST_PROXY), so that behind a
 * load balancer one client's guesses lock out that client, and the name keeps an attacker guessing
 * names from locking out an operator who shares its address.
 */
class LoginThrottle {
  private readonly failures = new Map<string, { since: number; count: number }>();

  private current(address: string) {
    const entry = this.failures.get(address);
    return entry && Date.now() - entry.since < LOGIN_WINDOW_MS ? entry : undefined;
  }

  /** Seconds until the address may try again, or 0. */
  blockedFor(address: string): number {
    const entry = this.current(address);
    if (!entry || entry.count < LOGIN_FAILURES_PER_WINDOW) return 0;
    return Math.max(1, Math.ceil((entry.since + LOGIN_WINDOW_MS - Date.now()) / 1000));
  }

  failed(address: string): void {
    const entry = this.current(address) ?? { since: Date.now(), count: 0 };
    entry.count += 1;
    this.failures.delete(address);
    this.failures.set(address, entry);
    if (this.failures.size > REMEMBERED_CLIENTS) this.failures.delete(this.failures.keys().next().value!);
  }
}

/**
 * Guards the operations surface (the queue dashboard, /metrics). A browser logs in with HTTP Basic
 * (ADMIN_USERNAME / ADMIN_PASSWORD), which it then sends with the dashboard's own requests;
 * scripts may send a Bearer token whose roles include `admin`, held to every rule the API holds tokens
 * to (a usable `sub`, `exp` where required, no `iat` ahead). Without configured credentials the
 * surface does not exist (404). Because browsers send Basic credentials by themselves, a
 * state-changing request from another site is refused (CSRF).
 */
export function requireAdmin(config: Pick<Config, 'admin' | 'jwt'>): RequestHandler {
  const verifyJwt = authenticate(config);
  const admin = config.admin;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  const throttle = new LoginThrottle();

  return (req: Request, res: Response, outerNext: NextFunction) => {
    if (!admin) return outerNext(new NotFoundError(`No route for ${req.method} ${req.path}`, { code: 'route_not_found' }));
    const header = req.get('authorization') ?? '';
    const basic = /^basic /i.test(header) ? Buffer.from(header.slice(6).trim(), 'base64').toString('utf8') : undefined;
    const colon = basic?.indexOf(':') ?? -1;
    const client = `${req.ip ?? req.socket.remoteAddress ?? 'unknown'}\n${basic?.slice(0, Math.max(colon, 0)) ?? ''}`;
    const wait = header ? throttle.blockedFor(client) : 0;
    if (wait > 0) return outerNext(new TooManyRequestsError(wait, 'failed logins'));
    // A refused login (credentials sent, and wrong) counts against the client's address and name.
    const next = (error?: unknown) => {
      if (header && error instanceof AppError && error.status === 401) throttle.failed(client);
      outerNext(error);
    };

    if (basic !== undefined) {
      // Compare digests so that the comparison takes the same time whatever the input's length.
      const userOk = timingSafeEqual(digest(basic.slice(0, Math.max(colon, 0))), digest(admin.username));
      const passwordOk = timingSafeEqual(digest(basic.slice(colon + 1)), digest(admin.password));
      if (colon < 0 || !userOk || !passwordOk) return next(needCredentials('Wrong username or password'));
      if (!SAFE_METHODS.has(req.method) && isCrossSite(req))
        return next(new ForbiddenError('Cross-site requests to the operations surface are refused'));
      return next();
    }

    if (/^bearer /i.test(header)) {
      return verifyJwt(req, res, (error?: unknown) => {
        if (error) return next(needCredentials('The token is invalid or expired'));
        if (!req.user?.roles.includes('admin')) return next(new ForbiddenError('The admin role is required'));
        next();
      });
    }

    next(needCredentials('Administrator credentials are required'));
  };
}

/** Whether a browser says the request comes from another site (Fetch Metadata, else Origin). */
function isCrossSite(req: Request): boolean {
  const site = req.get('sec-fetch-site');
  if (site) return site !== 'same-origin' && site !== 'none';
  const origin = req.get('origin');
  if (!origin) return false; // not a browser form or script: nothing ambient to abuse
  try {
    return new URL(origin).host !== req.get('host');
  } catch {
    return true;
  }
}
