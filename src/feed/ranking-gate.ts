import { ServiceUnavailableError } from '../errors';

/** What became of a request for a ranking (counted in feed_rankings_total). */
export type GateOutcome = 'ranked' | 'shared' | 'refused';

/**
 * Bounds the feed-ranking work of one process, whatever users send. Requests for the same key
 * (one user's feed under one version of their model) while its ranking is in progress, or just
 * finished, share that ranking instead of starting another; at most `concurrency` rankings run at once; at most
 * `queue` more wait for a slot, none past its deadline. Beyond that the answer is a 503 with
 * Retry-After at once, rather than a queue that slows every user down.
 */
export class RankingGate {
  private running = 0;
  private readonly waiting: { start: () => void; timer: NodeJS.Timeout }[] = [];
  private readonly inProgress = new Map<string, Promise<unknown>>();

  /**
   * `keepMs`: how long a finished ranking still answers its key. A first page that found no stored
   * ranking a moment before one was stored would otherwise rank again.
   */
  constructor(
    private readonly limits: { concurrency: number; queue: number; keepMs?: number },
    private readonly onOutcome: (outcome: GateOutcome) => void = () => undefined,
  ) {}

  /** `work`'s result, shared with every caller of the same key while it runs. */
  run<T>(key: string, deadline: number, work: () => Promise<T>): Promise<T> {
    const shared = this.inProgress.get(key) as Promise<T> | undefined;
    if (shared) {
      this.onOutcome('shared');
      return shared;
    }
    const result = this.acquire(deadline).then(async () => {
      try {
        return await work();
      } finally {
        this.release();
      }
    });
    const forget = () => this.inProgress.delete(key);
    const entry = result.then(
      (value) => {
        setTimeout(forget, this.limits.keepMs ?? 1000).unref();
        return value;
      },
      (error: unknown) => {
        forget(); // a failure is not shared with requests that come after it
        throw error;
      },
    );
    this.inProgress.set(key, entry);
    return entry;
  }

  private acquire(deadline: number): Promise<void> {
    if (this.running < this.limits.concurrency) {
      this.running += 1;
      this.onOutcome('ranked');
      return Promise.resolve();
    }
    const wait = deadline - Date.now();
    if (this.waiting.length >= this.limits.queue || wait <= 0) return Promise.reject(this.busy());
    return new Promise<void>((resolve, reject) => {
      const entry = {
        // `release` hands its slot over: `running` stays as it is.
        start: () => {
          clearTimeout(entry.timer);
          this.onOutcome('ranked');
          resolve();
        },
        timer: setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(entry), 1);
          reject(this.busy());
        }, wait),
      };
      this.waiting.push(entry);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next.start();
    else this.running -= 1;
  }

  private busy(): ServiceUnavailableError {
    this.onOutcome('refused');
    return new ServiceUnavailableError('Too many feeds are being ranked right now; retry shortly');
  }
}
