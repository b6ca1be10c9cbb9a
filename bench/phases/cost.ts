// Phase 6: does the worker's cost per interaction grow with the user's history? Users with 10,
// 1k and 100k prior interactions each get the same number of new ones, drained one class at a time.
import type { Context } from '../context';
import { countRows } from '../infra';
import { sendMany } from '../load';
import type { CostClass, CostResult } from '../results';
import { rebuildModel, seedInteractions } from '../seed';
import { Stack } from '../stack';
import { interactionRequest, pickAction, rng, Workload } from '../workload';
import { waitDrained } from './drain';

export async function runCost(ctx: Context): Promise<CostResult> {
  const { priors, perClass, events, backgroundUsers, backgroundInteractions } = ctx.settings.cost;
  // One user sends thousands of interactions in seconds here: a measuring device, not a person.
  const stack = await Stack.create(ctx, 'cost', events, { RATE_LIMIT_WRITES_PER_MINUTE: '0' });
  try {
    const seedStarted = performance.now();
    // Other users' history, so that popularity and co-occurrence are not empty.
    await seedInteractions(stack.pool, { count: backgroundInteractions, users: backgroundUsers });
    for (const prior of priors) await seedInteractions(stack.pool, { count: prior, userId: costUser(prior) });
    const seedS = (performance.now() - seedStarted) / 1000;
    const rebuild = await rebuildModel(stack.env(), ctx.settings.capsS.costRebuild);
    const result: CostResult = {
      perClass,
      events,
      background: { users: backgroundUsers, interactions: backgroundInteractions },
      seedS,
      rebuild,
      classes: [],
    };
    if (!rebuild.completed) {
      // Without a built model the worker would first queue a full rebuild and time that instead.
      result.skipped = `the model rebuild did not finish within ${ctx.settings.capsS.costRebuild} s`;
      return result;
    }
    await stack.startWeb();
    const workload = new Workload(stack.eventIds, 1, 11);
    const actions = rng(13);
    for (const prior of priors) {
      ctx.log(`  user with ${prior} prior interactions`);
      result.classes.push(await drainClass(ctx, stack, workload, prior, () => pickAction(actions())));
    }
    const rates = result.classes.map((c) => c.msPerInteraction);
    result.ratioMaxMin = Math.max(...rates) / Math.min(...rates);
    return result;
  } finally {
    await stack.destroy();
  }
}

async function drainClass(
  ctx: Context,
  stack: Stack,
  workload: Workload,
  prior: number,
  action: () => ReturnType<typeof pickAction>,
): Promise<CostClass> {
  const user = costUser(prior);
  const statuses = await sendMany(stack.baseUrl, ctx.settings.cost.perClass, 32, () => ({
    method: 'POST',
    path: '/interactions',
    ...interactionRequest(workload, { userId: user, eventId: workload.nextEvent(), action: action() }),
  }));
  const accepted = statuses['202'] ?? 0;
  const where = { sql: 'user_id = $1', params: [user] };
  const baseline = await countRows(stack.pool, `where ${where.sql}`, where.params);
  const { spawnedAt } = stack.startWorker();
  const worker = stack.worker!;
  const measure = await waitDrained({
    pool: stack.pool,
    queue: stack.queue,
    expected: accepted,
    baseline,
    where,
    startedAt: spawnedAt,
    capS: ctx.settings.capsS.costDrain,
    pollMs: 20,
    alive: () => worker.child.exitCode === null,
  });
  await stack.stopWorker();
  return { priorInteractions: prior, accepted, measure, msPerInteraction: 1000 / measure.ratePerS };
}

function costUser(prior: number): string {
  return `bench-cost-user-${prior}`;
}
