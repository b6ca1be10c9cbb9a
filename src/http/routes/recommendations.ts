import { Router } from 'express';
import { beforeDeadline } from '../../ops/deadline';
import { RECOMMENDATION_SETTINGS } from '../../domain/fitted-settings';
import { assignVariant } from '../../feed/experiment';
import { getFeedPage } from '../../feed/feed';
import type { AppDeps } from '../deps';
import { currentUser } from '../auth';
import { parseInput } from '../validate';
import { feedQuery, type feedItem, type Json } from '../schemas';

export function recommendationsRouter({
  db,
  feedDb,
  config,
  rankingCache,
  feedEvents,
  metrics,
  rankingGate,
  impressions,
}: Pick<AppDeps, 'db' | 'feedDb' | 'config' | 'rankingCache' | 'feedEvents' | 'metrics' | 'rankingGate' | 'impressions'>): Router {
  const router = Router();
  const deps = {
    db,
    readDb: feedDb,
    cache: rankingCache,
    events: feedEvents,
    settings: config.feed,
    rankingMaxAgeMs: config.feedRankingMaxAgeMs,
    gate: rankingGate,
    preparedStatements: config.databasePreparedStatements,
  };

  router.get('/recommendations', async (req, res) => {
    const { limit, cursor, kind, city, category, startsAfter, startsBefore } = parseInput(feedQuery, req.query);
    const query = { limit, cursor, filter: { kind, city, categories: category, startsAfter, startsBefore } };
    const userId = currentUser(req).id;
    const variant = assignVariant(config.feedVariants, userId);
    const page = await beforeDeadline(
      getFeedPage({ ...deps, settings: variant }, userId, { ...query, deadline: req.deadline }),
      req.deadline,
    );
    if (!query.cursor) metrics.feedFirstPages.inc({ ranking: page.ranked ? 'afresh' : 'ahead' });
    if (page.items.length > 0) {
      impressions.record({
        userId,
        rankingId: page.rankingId,
        // The variant that ranked what the page shows: a cursor pages through a ranking made before
        // the experiment changed, say.
        variant: page.variant ?? variant.name,
        settingsVersion: RECOMMENDATION_SETTINGS.version,
        eventIds: page.items.map((item) => item.eventId),
        positions: page.items.map((item) => item.position),
      });
    }
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
