import { Router } from 'express';
import { z } from 'zod';
import { feedStats } from '../../data/impressions';
import type { AppDeps } from '../deps';
import { parseInput } from '../validate';

const DAY_MS = 86_400_000;
/** Longest range one request may ask for. */
const MAX_DAYS = 366;

const statsQuery = z
  .object({ from: z.iso.date({ error: 'must be a date, YYYY-MM-DD' }), to: z.iso.date({ error: 'must be a date, YYYY-MM-DD' }) })
  .refine(({ from, to }) => from <= to, { message: 'from must not be after to', path: ['from'] })
  .refine(({ from, to }) => (Date.parse(to) - Date.parse(from)) / DAY_MS < MAX_DAYS, {
    message: `at most ${MAX_DAYS} days at once`,
    path: ['to'],
  });

/**
 * GET /admin/feed/stats?from=YYYY-MM-DD&to=YYYY-MM-DD (UTC days, both included), behind the
 * operators' login: per day and variant, the feed's impressions and the interactions attributed to
 * them (see feedStats), read where the feed reads (the replica of DATABASE_READ_URL, if set).
 */
export function feedStatsRouter({ feedDb, config }: Pick<AppDeps, 'feedDb' | 'config'>): Router {
  const router = Router();
  router.get('/admin/feed/stats', async (req, res) => {
    const { from, to } = parseInput(statsQuery, req.query);
    res.json({ days: await feedStats(feedDb, from, to, config.feedImpressions.attributionHours) });
  });
  return router;
}
