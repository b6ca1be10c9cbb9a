import path from 'node:path';
import express, { Router } from 'express';
import { z } from 'zod';
import { feedStats, type FeedDayStats } from '../../data/impressions';
import { compareVariants } from '../../feed/experiment';
import type { AppDeps } from '../deps';
import { parseInput } from '../validate';

const DAY_MS = 86_400_000;
/** Longest range one request may ask for. */
const MAX_DAYS = 366;

// PostgreSQL has no year 0 (ISO 8601's 0000 is 1 BC to it): refused here, not a 500 there.
const day = z.iso.date({ error: 'must be a date, YYYY-MM-DD' }).refine((d) => !d.startsWith('0000'), 'must be in year 0001 or later');

const statsQuery = z
  .object({ from: day, to: day })
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
  // The page (GET /admin/feed): its own files and Chart.js, under the API's strict content policy.
  const page = path.join(__dirname, '..', 'admin-feed');
  router.get('/admin/feed', (_req, res) => res.sendFile(path.join(page, 'index.html')));
  router.use('/admin/feed/files', express.static(page, { index: false }));
  router.use(
    '/admin/feed/assets',
    express.static(path.dirname(require.resolve('chart.js')) /* its dist/, which holds chart.umd.min.js */, { index: false }),
  );
  router.get('/admin/feed/stats', async (req, res) => {
    const { from, to } = parseInput(statsQuery, req.query);
    const days = await feedStats(feedDb, from, to, config.feedImpressions.attributionHours);
    res.json({
      days,
      variants: compareVariants(
        variantTotals(
          days,
          config.feedVariants.map((v) => v.name),
        ),
      ),
    });
  });
  return router;
}

/** The range's impressions and positive interactions per variant: the configured ones first, in order, then any others served in it. */
function variantTotals(days: readonly FeedDayStats[], configured: readonly string[]) {
  const totals = new Map(configured.map((variant) => [variant, { variant, impressions: 0, positive: 0 }]));
  for (const day of days) {
    const total = totals.get(day.variant) ?? { variant: day.variant, impressions: 0, positive: 0 };
    total.impressions += day.impressions;
    total.positive += day.engaged.CLICK + day.engaged.SAVE + day.engaged.APPLY;
    totals.set(day.variant, total);
  }
  return [...totals.values()];
}
