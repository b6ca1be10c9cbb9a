import { Router } from 'express';
import { z } from 'zod';
import { getRecommendations } from '../../domain/recommendations';
import type { AppDeps } from '../../app';
import { currentUser } from '../auth';
import { parseInput } from '../validate';

const feedQuery = z.object({
  limit: z
    .string({ error: 'must be a single whole number' })
    .regex(/^\d{1,3}$/, 'must be a whole number from 1 to 100')
    .transform(Number)
    .pipe(z.number().min(1, 'must be a whole number from 1 to 100').max(100, 'must be a whole number from 1 to 100'))
    .default(20),
  cursor: z.string({ error: 'must be a single string' }).min(1).max(200, 'is not valid').optional(),
});

export function recommendationsRouter({ feedDb, feedUpToDate, config, feedStore, feedEvents, metrics }: AppDeps): Router {
  const router = Router();

  router.get('/recommendations', async (req, res) => {
    const query = parseInput(feedQuery, req.query);
    const deps = {
      db: feedDb,
      store: feedStore,
      events: feedEvents,
      settings: config.model,
      rankingMaxAgeMs: config.feedRankingMaxAgeMs,
      upToDate: feedUpToDate,
    };
    const page = await getRecommendations(deps, currentUser(req).id, query);
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
