import type { RequestHandler } from 'express';

declare module 'express-serve-static-core' {
  interface Request {
    /**
     * When this request stops waiting on Redis (epoch ms), set at its arrival: the rate limit, the
     * enqueue and the feed's state share it, so however slow Redis is, the answer (a 503 at worst)
     * leaves within one budget rather than one per call.
     */
    deadline: number;
  }
}

/** Gives every request its deadline, `budgetMs` (ENQUEUE_TIMEOUT_MS) from its arrival. */
export function startDeadline(budgetMs: number): RequestHandler {
  return (req, _res, next) => {
    req.deadline = Date.now() + budgetMs;
    next();
  };
}
