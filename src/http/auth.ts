import { createSecretKey } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { expressjwt, UnauthorizedError as JwtError } from 'express-jwt';
import type { Config } from '../config';
import type { AuthUser } from '../domain/auth-user';
import { isStorableText } from '../domain/ids';
import { UnauthorizedError } from '../errors';

/** Longest `sub` accepted; the column is indexed, and ids of any identity provider fit. */
export const MAX_SUBJECT_LENGTH = 255;

declare module 'express-serve-static-core' {
  interface Request {
    /** Set by `authenticate` from a verified token. */
    user?: AuthUser;
  }
}

/** Longest Authorization header accepted: real tokens are a few hundred bytes; a huge one is refused before it is decoded. */
export const MAX_AUTHORIZATION_LENGTH = 4096;

/** express-jwt's check of the bearer token (HS256 only; `exp`, and `iss`/`aud` when configured), claims in `req.auth`. */
export function verifyBearerToken(config: Pick<Config, 'jwt'>): RequestHandler {
  const verify = expressjwt({
    // A KeyObject, not the string: given a string, jsonwebtoken first tries to read it as a public
    // key and throws, on every request; that cost a third of the API's CPU.
    secret: createSecretKey(Buffer.from(config.jwt.secret, 'utf8')),
    algorithms: ['HS256'],
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
  });
  return (req, res, next) => {
    if ((req.get('authorization')?.length ?? 0) > MAX_AUTHORIZATION_LENGTH) return next(new UnauthorizedError('The token is too long'));
    return verify(req, res, next);
  };
}

/**
 * Verifies the bearer token (HS256 only; `exp`, and `iss`/`aud` when configured) and sets
 * `req.user` from its claims. A token without a usable `sub` is refused like a forged one.
 */
export function authenticate(config: Pick<Config, 'jwt'>): RequestHandler[] {
  const verify = verifyBearerToken(config);
  const toUser = (req: Request, _res: Response, next: NextFunction) => {
    const claims = (req as Request & { auth?: Record<string, unknown> }).auth ?? {};
    const { sub, roles = [] } = claims;
    if (typeof sub !== 'string' || sub.trim() === '') {
      return next(new UnauthorizedError('The token has no subject (sub)'));
    }
    // The subject becomes interactions.user_id: refuse here what could not be stored, rather than
    // accept an interaction (202) that the worker could never write.
    if (sub.length > MAX_SUBJECT_LENGTH || !isStorableText(sub)) {
      return next(new UnauthorizedError("The token's subject (sub) is not a usable user id"));
    }
    if (!Array.isArray(roles) || !roles.every((role) => typeof role === 'string')) {
      return next(new UnauthorizedError("The token's roles claim must be an array of strings"));
    }
    req.user = { id: sub, roles };
    next();
  };
  return [verify, toUser];
}

/** The authenticated caller; only for routes behind `authenticate`. */
export function currentUser(req: Request): AuthUser {
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
