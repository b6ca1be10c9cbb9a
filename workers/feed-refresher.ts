import type { Config } from '../src/config';
import type { Db } from '../src/data/db';
import { redisFeedStore, writeMarkMs, type FeedStore } from '../src/data/feed-store';
import type { RedisClient } from '../src/data/redis';
import { rankFeed } from '../src/domain/recommendations';
import type { Logger } from '../src/logger';
import type { Metrics } from '../src/metrics';

/** A refresher as the configuration asks for, its feed store on `redis`. */
export function createFeedRefresher(
  config: Pick<Config, 'queuePrefix' | 'feed' | 'feedRankAfterWrites' | 'worker'>,
  deps: { db: Db; redis: RedisClient; logger: Logger; metrics?: Metrics },
): FeedRefresher {
  const { db, redis, logger, metrics } = deps;
  return new FeedRefresher(
    { db, store: redisFeedStore(redis, config.queuePrefix, { writeMarkMs: writeMarkMs(config) }), settings: config.feed, logger, metrics },
    { rankAfterWrites: config.feedRankAfterWrites },
  );
}

export interface FeedRefresherDeps {
  db: Db;
  store: FeedStore;
  settings: Config['feed'];
  logger: Logger;
  metrics?: Metrics;
}

/**
 * Keeps the feed rankings in Redis true to the model. Around each write of interactions it bumps
 * those users' feed generation (before the commit, so that no ranking made meanwhile is served;
 * after, so that none made from the model without it is). With `rankAfterWrites`, it then ranks
 * again, a moment later, the feeds of those who read a first page since their last ranking ahead,
 * so that their next first page is ready: one ranking per first page read at most. A burst of one
 * user's interactions makes one ranking, and at most `concurrency` rankings run at once, so the
 * writes keep the worker's time. Off by default: where users interact more often than they reload
 * their feed, a ranking made ahead is mostly overtaken by the next write before anyone reads it.
 * Nothing here is owed to anyone: a ranking lost to a crash only means the next first page is
 * ranked on request.
 */
export class FeedRefresher {
  /** Users whose feed is to be ranked, with when; in the order they became due. */
  private readonly due = new Map<string, number>();
  private readonly running = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly deps: FeedRefresherDeps,
    private readonly options: { rankAfterWrites: boolean; delayMs?: number; concurrency?: number },
  ) {}

  /**
   * Runs `write` (which stores these users' interactions, and awaits `beforeCommit` before it
   * commits) so that no feed served once it returns was ranked without it. The first bump marks
   * the write in flight: until the second, after the commit, no ranking of these users is served
   * or made ready (if this process dies in between, until the job is redelivered and run again, or
   * the write mark's time has passed). The first bump runs while the transaction does, so the
   * writes wait for Redis only once.
   */
  async around<T>(userIds: string[], write: (beforeCommit: Promise<unknown>) => Promise<T>): Promise<T> {
    const begun = this.deps.store.beginWrite(userIds);
    begun.catch(() => undefined); // a write that fails first never awaits it
    const result = await write(begun).catch(async (error: unknown) => {
      await this.deps.store.invalidate(userIds, false).catch(() => undefined); // end the mark; it would lapse anyway
      throw error;
    });
    const claimed = await this.deps.store.invalidate(userIds, this.options.rankAfterWrites);
    this.schedule(claimed);
    return result;
  }

  /**
   * Once a rebuild has committed: no ranking made from the model before it is served. A failure is
   * only logged (redoing a rebuild of minutes for it would cost more): rankings from before it
   * then age out within FEED_RANKING_MAX_AGE_S.
   */
  async afterRebuild(): Promise<void> {
    const feeds = await this.deps.store.invalidateAll().catch((error: unknown) => {
      this.deps.logger.warn(
        { err: error },
        'could not invalidate the feed rankings made before the rebuild; they age out within FEED_RANKING_MAX_AGE_S',
      );
    });
    if (feeds !== undefined) this.deps.logger.info({ feeds }, 'feed rankings made before the rebuild invalidated');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.due.clear();
    await Promise.all(this.running);
  }

  private schedule(userIds: string[]): void {
    if (this.stopped) return;
    const at = Date.now() + (this.options.delayMs ?? 250);
    for (const userId of userIds) if (!this.due.has(userId)) this.due.set(userId, at);
    this.pump();
  }

  private pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const [userId, at] of this.due) {
      if (this.running.size >= (this.options.concurrency ?? 2)) return; // a finishing ranking pumps again
      const wait = at - Date.now();
      if (wait > 0) {
        this.timer = setTimeout(() => this.pump(), wait);
        return;
      }
      this.due.delete(userId);
      const run = this.refresh(userId).finally(() => {
        this.running.delete(run);
        if (!this.stopped) this.pump();
      });
      this.running.add(run);
    }
  }

  private async refresh(userId: string): Promise<void> {
    const { store, metrics } = this.deps;
    try {
      // Read before the model: a write after this bumps it, and the ranking below is then refused.
      // Nothing to do if the user's own first page has ranked under it since the write.
      const generation = await store.generation(userId);
      if (generation === undefined) return;
      const items = await rankFeed(this.deps, userId, await store.hidden(userId));
      const stored = await store.offer(userId, items, generation);
      metrics?.feedRefreshes.inc({ outcome: stored ? 'stored' : 'superseded' });
    } catch (error) {
      metrics?.feedRefreshes.inc({ outcome: 'failed' });
      this.deps.logger.warn({ err: error }, 'could not rank a feed ahead; its next first page is ranked on request');
    }
  }
}
