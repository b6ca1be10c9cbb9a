import { createSecretKey } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import { expressjwt, UnauthorizedError as JwtError } from 'express-jwt';
import type { Config } from '../config';
import type { AuthUser } from '../domain/auth-user';
import { isStorableText } from '../domain/ids';
import { UnauthorizedError } from '../errors';

/** Longest `sub` accepted; the column is indexed, and ids of any identity provider fit. */
export const MAX_SUBJECT_LENGTH = 255;

declare module 'node:http' {
  interface IncomingMessage {
    /** Set by `authenticate` from a verified token. */
    user?: AuthUser;
    /** The verified token's claims (express-jwt's `req.auth`). */
    auth?: Claims;
  }
}

/** Middleware on Node's request and response, so that the plain ingest path (ingest-path.ts) runs it too. */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/** Longest Authorization header accepted: real tokens are a few hundred bytes; a huge one is refused before it is decoded. */
export const MAX_AUTHORIZATION_LENGTH = 4096;

/**
 * Most verified tokens remembered at once (see verifyBearerToken): about 350 bytes each, so 17 MB
 * when full. It holds a process's active users: with fewer remembered than users sending, tokens
 * leave before their next use and every request verifies again.
 */
const REMEMBERED_TOKENS = 50_000;

/**
 * express-jwt's check of the bearer token (HS256 only; `exp`, and `iss`/`aud` when configured),
 * claims in `req.auth`. A token that passed is remembered, by its whole text (signature included),
 * with its claims: checking the HMAC and parsing the claims again on every request of a client is
 * the largest cost of an authenticated request. A remembered token is not trusted for longer than its own claims allow:
 * `exp` and `nbf` are checked on every use, and the memory is bounded (oldest first out).
 */
export function verifyBearerToken(config: Pick<Config, 'jwt'>): Middleware {
  const verify = expressjwt({
    // A KeyObject, not the string: given a string, jsonwebtoken first tries to read it as a public
    // key and throws, on every request, and building that error costs more than the check itself.
    secret: createSecretKey(Buffer.from(config.jwt.secret, 'utf8')),
    algorithms: ['HS256'],
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
  });
  const verified = new Map<string, Claims>(); // token → its claims, oldest first
  return (req, res, next) => {
    const header = req.headers.authorization;
    if ((header?.length ?? 0) > MAX_AUTHORIZATION_LENGTH) return next(new UnauthorizedError('The token is too long'));
    const token = header && /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/.test(header) ? header.slice(7) : undefined;
    const known = token === undefined ? undefined : verified.get(token);
    if (known) {
      const now = Date.now() / 1000;
      if (typeof known.exp === 'number' && now >= known.exp) {
        verified.delete(token!);
        return next(new UnauthorizedError('The token has expired'));
      }
      if (typeof known.nbf === 'number' && now < known.nbf) return next(new UnauthorizedError('The token is invalid'));
      req.auth = known;
      return next();
    }
    // express-jwt reads the request's headers and method, and sets req.auth: a Node request will do.
    return void verify(req as Request, res as Response, (error?: unknown) => {
      const claims = req.auth;
      if (!error && token !== undefined && claims) {
        verified.set(token, claims);
        if (verified.size > REMEMBERED_TOKENS) verified.delete(verified.keys().next().value!);
      }
      next(error);
    });
  };
}

type Claims = Record<string, unknown> & { exp?: unknown; nbf?: unknown };

/**
 * Verifies the bearer token (HS256 only; `exp`, and `iss`/`aud` when configured) and sets
 * `req.user` from its claims. A token without a usable `sub` is refused like a forged one.
 */
export function authenticate(config: Pick<Config, 'jwt'>): Middleware {
  const verify = verifyBearerToken(config);
  const toUser = (req: IncomingMessage): UnauthorizedError | undefined => {
    const claims = req.auth ?? {};
    const { sub, roles = [] } = claims;
    if (typeof sub !== 'string' || sub.trim() === '') return new UnauthorizedError('The token has no subject (sub)');
    // The subject becomes interactions.user_id: refuse here what could not be stored, rather than
    // accept an interaction (202) that the worker could never write.
    if (sub.length > MAX_SUBJECT_LENGTH || !isStorableText(sub)) {
      return new UnauthorizedError("The token's subject (sub) is not a usable user id");
    }
    if (!Array.isArray(roles) || !roles.every((role) => typeof role === 'string')) {
      return new UnauthorizedError("The token's roles claim must be an array of strings");
    }
    const problem = lifetimeProblem(config.jwt, claims);
    if (problem) return new UnauthorizedError(problem);
    req.user = { id: sub, roles };
    return undefined;
  };
  // One middleware, not two: each layer every request passes costs the router's dispatch.
  return (req, res, next) => verify(req, res, (error?: unknown) => next(error ?? toUser(req)));
}

/** Clocks drift; a token issued further ahead than this was not issued by a sane clock. */
const ISSUED_AHEAD_TOLERANCE_S = 60;

/**
 * A token that never expires cannot be revoked by waiting (JWT_REQUIRE_EXP); one issued in the
 * future (`iat` more than a minute ahead) would outlive what its issuer meant.
 */
function lifetimeProblem(jwt: Pick<Config['jwt'], 'requireExp'>, claims: Record<string, unknown>): string | undefined {
  if (jwt.requireExp && typeof claims.exp !== 'number') return 'The token has no expiry (exp)';
  if (typeof claims.iat === 'number' && claims.iat > Date.now() / 1000 + ISSUED_AHEAD_TOLERANCE_S) {
    return 'The token was issued in the future (iat)';
  }
  return undefined;
}

/** The authenticated caller; only for routes behind `authenticate`. */
export function currentUser(req: IncomingMessage): AuthUser {
  if (!req.user) throw new UnauthorizedError();
  return req.user;
}

/** Maps express-jwt's errors to ours, with a message that does not echo the token. */
export function fromJwtError(error: unknown): UnauthorizedError | undefined {
  if (!(error instanceof JwtError)) return undefined;
  if (error.code === 'credentials_required') return new UnauthorizedError('A bearer token is required');
  if (error.code === 'credentials_bad_scheme' || error.code === 'credentials_bad_format') {
    return new UnauthorizedError('Send the token as "Authorization: Bearer <token>"');
  }
  if ('name' in error.inner && error.inner.name === 'TokenExpiredError') return new UnauthorizedError('The token has expired');
  return new UnauthorizedError('The token is invalid');
}
