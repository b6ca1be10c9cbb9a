// Phase 5: GET /recommendations on a realistic model: many upcoming events, 50k users, 1M
// interactions loaded by SQL, the model built by the service's rebuild script.
import type { Context } from '../context';
import { closedLoop } from '../load';
import type { FeedResult } from '../results';
import { rebuildModel, seedInteractions } from '../seed';
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

    // Random users, heavy and light alike; tokens signed up front so the client only sends.
    const random = rng(7);
    const tokens = Array.from({ length: Math.min(users, 5000) }, () => signToken(userId(Math.floor(random() * users))));
    const next = cycle(
      tokens.map((token) => ({ method: 'GET' as const, path: '/recommendations?limit=20', headers: { authorization: `Bearer ${token}` } })),
    );
    await stack.startWeb();
    const url = stack.baseUrl.origin;
    await closedLoop({ url, connections, durationS: warmupS, next });
    const measured = await closedLoop({ url, connections, durationS, next });
    const single = await closedLoop({ url, connections: 1, durationS, next });
    return { events, users, interactions, seedS, rebuild, connections, warmupS, measured, single };
  } finally {
    await stack.destroy();
  }
}
