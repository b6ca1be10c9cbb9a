import type { IncomingMessage, ServerResponse } from 'node:http';
import { authenticate, type Middleware } from './auth';
import type { AppDeps } from './deps';

/**
 * One step of an API request's way to its route, middleware on Node's request and response: it
 * calls `next()` to let the request on, or `next(error)` to answer it with that error. Express
 * takes it as it is; the plain ingest path runs the same list with runSteps.
 */
export type Step = Middleware;

/**
 * What every request to the API's routes goes through, in this order, on both paths (the Express
 * app and the plain ingest path are built from this one list, so that neither can skip a step the
 * other takes): the token, then the user's rate limit. A check of every request (a suspended user,
 * say) is a step added here, never an `app.use` of its own.
 */
export function apiSteps(deps: Pick<AppDeps, 'config' | 'rateLimiter'>): Step[] {
  return [authenticate(deps.config), deps.rateLimiter.step];
}

/** Runs `steps` in order on a request, as Express would: resolves once the last lets it on. */
export function runSteps(steps: readonly Step[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    let index = 0;
    const next = (error?: unknown) => {
      if (error) return reject(error);
      const step = steps[index++];
      if (!step) return resolve();
      try {
        step(req, res, next);
      } catch (thrown) {
        reject(thrown);
      }
    };
    next();
  });
}
