import { randomUUID } from 'node:crypto';
import { ACTIONS } from '../../src/domain/weights';
import { sleep } from './wait';

export interface LoadOptions {
  baseUrl: string;
  users: { userId: string; token: string }[];
  eventIds: string[];
  /** Requests in flight at once. */
  clients: number;
  /** Stop once this many interactions were accepted; otherwise run until `stop()`. */
  total?: number;
  /** How long one interaction is retried before the client gives up on it. */
  giveUpAfterMs?: number;
  /** The pause before a retry (100 ms unless told). */
  retryDelayMs?: number;
}

export interface Load {
  /** Interactions the API accepted (202), by row id. */
  accepted: Map<string, { userId: string; at: number }>;
  /** Every attempt's outcome: an HTTP status, or the error code of a connection that failed. */
  attempts: Record<string, number>;
  /** Interactions retried for `giveUpAfterMs` without a 202. */
  abandoned: number;
  /** Resolves when the load has stopped and every client has settled its last interaction. */
  finished: Promise<void>;
  /** Stops sending new interactions, and waits for those in flight to be accepted or abandoned. */
  stop(): Promise<void>;
  /** Stops at once, retrying nothing (a test's clean-up after a failure). */
  abort(): Promise<void>;
}

/**
 * POST /interactions from `clients` concurrent clients that behave as a careful client should:
 * each interaction carries an Idempotency-Key and is retried with it after a 503 or a lost
 * connection until it is accepted. So every interaction the clients meant to send is recorded
 * exactly once, and the rows must equal `accepted` exactly, whatever fails on the server's side.
 */
export function startLoad(options: LoadOptions): Load {
  let stopping = false;
  let aborted = false;
  const load: Load = {
    accepted: new Map(),
    attempts: {},
    abandoned: 0,
    finished: Promise.resolve(),
    stop: async () => {
      stopping = true;
      await load.finished;
    },
    abort: async () => {
      stopping = aborted = true;
      await load.finished;
    },
  };
  const count = (outcome: string) => (load.attempts[outcome] = (load.attempts[outcome] ?? 0) + 1);
  const pick = <T>(items: readonly T[]) => items[Math.floor(Math.random() * items.length)]!;
  const done = () => stopping || (options.total !== undefined && load.accepted.size >= options.total);

  const send = async (user: { userId: string; token: string }, body: unknown, key: string): Promise<string | number | undefined> => {
    try {
      const res = await fetch(`${options.baseUrl}/interactions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      count(String(res.status));
      const json = (await res.json().catch(() => undefined)) as { id?: string } | undefined;
      return res.status === 202 ? json?.id : res.status;
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause;
      count(cause?.code ?? (error as Error).name);
      return undefined;
    }
  };

  const client = async () => {
    while (!done()) {
      const user = pick(options.users);
      const body = { eventId: pick(options.eventIds), action: pick(ACTIONS) };
      const key = randomUUID();
      const giveUpAt = Date.now() + (options.giveUpAfterMs ?? 60_000);
      for (;;) {
        const outcome = await send(user, body, key);
        if (typeof outcome === 'string') {
          load.accepted.set(outcome, { userId: user.userId, at: Date.now() });
          break;
        }
        // 503 or no answer: the same key again, so that it is recorded once whatever happened.
        if (outcome !== undefined && outcome !== 503) break; // any other status is final (and a test failure)
        if (Date.now() > giveUpAt || aborted) {
          load.abandoned += 1;
          break;
        }
        await sleep(options.retryDelayMs ?? 100);
      }
    }
  };
  load.finished = Promise.all(Array.from({ length: options.clients }, client)).then(() => undefined);
  return load;
}

/** `n` users with tokens signed by `token`. */
export function makeUsers(n: number, token: (sub: string) => string) {
  return Array.from({ length: n }, () => {
    const userId = `user-${randomUUID()}`;
    return { userId, token: token(userId) };
  });
}
