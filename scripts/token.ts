// `npm run token -- --sub alice [--roles admin,organizer] [--days 7]`: prints a token signed with the
// configured JWT_SECRET (the development secret unless one is set), for curl and the API docs.
import { parseArgs } from 'node:util';
import jwt from 'jsonwebtoken';
import type { Config } from '../src/config';
import { loadConfigOrExit } from '../src/ops/lifecycle';

/** A token the API accepts: HS256 with the configured secret, issuer and audience. */
export function signToken(config: Pick<Config, 'jwt'>, claims: { sub: string; roles: string[] }, days = 7): string {
  return jwt.sign(claims, config.jwt.secret, {
    algorithm: 'HS256',
    expiresIn: `${days}d`,
    ...(config.jwt.issuer && { issuer: config.jwt.issuer }),
    ...(config.jwt.audience && { audience: config.jwt.audience }),
  });
}

if (require.main === module) {
  const usage = 'usage: npm run token -- --sub USER [--roles admin,organizer] [--days 7]';
  let values: { sub?: string; roles?: string; days?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: { sub: { type: 'string' }, roles: { type: 'string' }, days: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
  if (values.help || !values.sub) {
    console.error(usage);
    process.exit(values.help ? 0 : 2);
  }
  const days = Number(values.days ?? 7);
  if (!(days > 0)) {
    console.error(`--days must be a positive number\n${usage}`);
    process.exit(2);
  }
  process.env.NODE_ENV ??= 'development';
  const roles = (values.roles ?? '').split(',').filter(Boolean);
  console.log(signToken(loadConfigOrExit(), { sub: values.sub, roles }, days));
}
