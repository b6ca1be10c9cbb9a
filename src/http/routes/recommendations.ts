import { Router } from 'express';
import { beforeDeadline } from '../../deadline';
import { getFeedPage } from '../../feed/feed';
import type { AppDeps } from '../deps';
import { currentUser } from '../auth';
import { parseInput } from '../validate';
import { type feedItem, type Json, pageQuery } from '../schemas';

export function recommendationsRouter({
  db,
  feedDb,
  config,
  rankingCache,
  feedEvents,
  metrics,
  rankingGate,
}: Pick<AppDeps, 'db' | 'feedDb' | 'config' | 'rankingCache' | 'feedEvents' | 'metrics' | 'rankingGate'>): Router {
  const router = Router();
  const deps = {
    db,
    readDb: feedDb,
    cache: rankingCache,
    events: feedEvents,
    settings: config.feed,
    rankingMaxAgeMs: config.feedRankingMaxAgeMs,
    gate: rankingGate,
  };

  router.get('/recommendations', async (req, res) => {
    const query = parseInput(pageQuery, req.query);
    const page = await beforeDeadline(getFeedPage(deps, currentUser(req).id, { ...query, deadline: req.deadline }), req.deadline);
    if (!query.cursor) metrics.feedFirstPages.inc({ ranking: page.ranked ? 'afresh' : 'ahead' });
    res.json({
      recommendationId: page.rankingId,
      items: page.items.map(({ eventId, position, score, reasons, event }): Json<typeof feedItem> => ({
        eventId,
        position,
        score,
        reasons,
        event: { ...event, startsAt: event.startsAt.toISOString() },
      })),
      nextCursor: page.nextCursor,
    });
  });

  return router;
}
