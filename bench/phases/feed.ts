// Phase 5: GET /recommendations on a realistic model: many upcoming events, 50k users, 1M
// interactions loaded by SQL, the model built by the service's rebuild script. First pages of users
// who had none lately (ranked on request), then of users who had one moments ago (ranked ahead),
// then filtered first pages and similar events.
import type { Context } from '../context';
import { closedLoop, sendMany } from '../load';
import type { FeedResult } from '../results';
import { CATEGORIES, CITIES, rebuildModel, seedInteractions } from '../seed';
import { Stack } from '../stack';
import { rng, signToken, userId } from '../workload';
import { cycle } from './throughput';

export async function runFeed(ctx: Context): Promise<FeedResult> {
  const { events, users, interactions, connections, warmupS, durationS } = ctx.settings.feed;
  const stack = await Stack.create(ctx, 'feed', events);
  try {
    ctx.log(`  loading ${interactions} interactions of ${users} users by SQL`);
    const seedStarted = performance.now();
    await seedInteractions(stack.pool, { count: interactions, users });
    const seedS = (performance.now() - seedStarted) / 1000;
    ctx.log(`  rebuilding the model (at most ${ctx.settings.capsS.feedRebuild} s)`);
    const rebuild = await rebuildModel(stack.env(), ctx.settings.capsS.feedRebuild);
    ctx.log(
      `  rebuild: ${rebuild.completed ? `${rebuild.seconds.toFixed(1)} s` : `not finished (${rebuild.done ?? '?'}/${rebuild.total ?? '?'})`}`,
    );
    // Fresh statistics for the planner, as autovacuum would have gathered by the time users come.
    await stack.pool.query('analyze');

    // Random users, heavy and light alike, each asked once: a user's first page of a session, ranked
    // on request. Tokens are signed up front so that the client only sends.
    const random = rng(7);
    const asRequests = (tokens: string[]) =>
      tokens.map((token) => ({ method: 'GET' as const, path: '/recommendations?limit=20', headers: { authorization: `Bearer ${token}` } }));
    const firstVisits = Array.from({ length: Math.min(users, 20_000) }, () => signToken(userId(Math.floor(random() * users))));
    const next = cycle(asRequests(firstVisits));
    await stack.startWeb();
    const url = stack.baseUrl.origin;
    await closedLoop({ url, connections, durationS: warmupS, next });
    const measured = await closedLoop({ url, connections, durationS, next });
    const single = await closedLoop({ url, connections: 1, durationS, next });

    // Returning users: their previous first page, moments ago, left the ranking for this one.
    const returning = asRequests(Array.from({ length: Math.min(users, 2000) }, () => signToken(userId(Math.floor(random() * users)))));
    const again = cycle(returning);
    await sendMany(stack.baseUrl, returning.length, 4, again);
    await closedLoop({ url, connections, durationS: warmupS, next: again });
    const aheadMeasured = await closedLoop({ url, connections, durationS, next: again });
    const aheadSingle = await closedLoop({ url, connections: 1, durationS, next: again });
    const ahead = { users: returning.length, measured: aheadMeasured, single: aheadSingle };

    // Filtered first pages (each filter set has its own ranking, so each is ranked on request), and
    // similar events of random events for random users.
    const pick = <T>(values: T[]) => values[Math.floor(random() * values.length)]!;
    const filteredPath = () =>
      pick([
        () => `kind=gig&city=${pick(CITIES)}`,
        () => `category=${pick(CATEGORIES)}&category=${pick(CATEGORIES)}`,
        () => `city=${pick(CITIES)}&startsBefore=${encodeURIComponent(new Date(Date.now() + 14 * 86_400_000).toISOString())}`,
      ])();
    const filteredRequests = Array.from({ length: 20_000 }, () => ({
      method: 'GET' as const,
      path: `/recommendations?limit=20&${filteredPath()}`,
      headers: { authorization: `Bearer ${signToken(userId(Math.floor(random() * users)))}` },
    }));
    const similarRequests = Array.from({ length: 20_000 }, () => ({
      method: 'GET' as const,
      path: `/events/${pick(stack.eventIds)}/similar?limit=10`,
      headers: { authorization: `Bearer ${signToken(userId(Math.floor(random() * users)))}` },
    }));
    const shape = async (requests: typeof filteredRequests) => {
      const next = cycle(requests);
      await closedLoop({ url, connections, durationS: warmupS, next });
      return {
        measured: await closedLoop({ url, connections, durationS, next }),
        single: await closedLoop({ url, connections: 1, durationS, next }),
      };
    };
    const filtered = await shape(filteredRequests);
    const similar = await shape(similarRequests);
    return { events, users, interactions, seedS, rebuild, connections, warmupS, measured, single, ahead, filtered, similar };
  } finally {
    await stack.destroy();
  }
}
