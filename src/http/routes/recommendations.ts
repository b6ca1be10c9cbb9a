import { Router } from 'express';
import { beforeDeadline } from '../../deadline';
import { getRecommendations } from '../../domain/recommendations';
import type { AppDeps } from '../../app';
import { currentUser } from '../auth';
import { pageQuery, parseInput } from '../validate';

export function recommendationsRouter({ feedDb, feedUpToDate, config, feedStore, feedEvents, metrics, rankingGate }: AppDeps): Router {
  const router = Router();

  router.get('/recommendations', async (req, res) => {
    const query = parseInput(pageQuery, req.query);
    const deps = {
      db: feedDb,
      store: feedStore,
      events: feedEvents,
      settings: config.feed,
      rankingMaxAgeMs: config.feedRankingMaxAgeMs,
      upToDate: feedUpToDate,
      gate: rankingGate,
    };
    const page = await beforeDeadline(getRecommendations(deps, currentUser(req).id, { ...query, deadline: req.deadline }), req.deadline);
    if (!query.cursor) metrics.feedFirstPages.inc({ ranking: page.ranked ? 'afresh' : 'ahead' });
    res.json({
      items: page.items.map(({ eventId, score, reasons, event }) => ({
        eventId,
        score,
        reasons,
        event: { ...event, startsAt: event.startsAt.toISOString() },
      })),
      nextCursor: page.nextCursor,
    });
  });

  return router;
}
