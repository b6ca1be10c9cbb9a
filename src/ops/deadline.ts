import { databaseUnavailable, ServiceUnavailableError } from '../errors';

const busy = () => new ServiceUnavailableError('The service is busy; retry shortly');

/**
 * Settles with `work`, or rejects with a 503 once `deadline` (epoch ms) has passed. For work whose
 * late completion is harmless (a read); a write must be withdrawn instead (see the producer).
 */
export function beforeDeadline<T>(work: Promise<T>, deadline: number, unavailable: () => ServiceUnavailableError = busy): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  const expired = new Promise<never>((_, reject) => {
    // Timers run before the loop reads its sockets: after a busy spell, an answer that arrived in
    // time is read in the same turn, after the timer. It counts (an enqueue it confirms was done).
    timer = setTimeout(() => (immediate = setImmediate(() => reject(unavailable()))), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([work, expired]).finally(() => {
    clearTimeout(timer);
    clearImmediate(immediate);
  });
}

/**
 * A read of PostgreSQL that a request waits for until its deadline at most: one that has not
 * answered by then (a stalled server) is a 503, and answers nobody when it completes.
 */
export const readBy = <T>(work: Promise<T>, deadline: number): Promise<T> => beforeDeadline(work, deadline, databaseUnavailable);

/** Resolves with `work`'s value, or with `fallback` if it fails or has not settled by `deadline` (epoch ms). */
export function settleBy<T>(work: Promise<T>, deadline: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([work.catch(() => fallback), late]).finally(() => clearTimeout(timer));
}
