// Phase 4: at a steady 1,000 req/s, how long after its 202 an interaction (row and score, one
// transaction) becomes visible in PostgreSQL.
import { Client } from 'pg';
import type { Context } from '../context';
import { distribution, openLoop } from '../load';
import { sleep } from '../processes';
import type { FreshnessResult } from '../results';
import type { Stack } from '../stack';
import { interactionRequest, type Workload } from '../workload';

export async function runFreshness(ctx: Context, stack: Stack, workload: Workload): Promise<FreshnessResult> {
  const { rate, warmupS, durationS, sampleEvery, pollMs } = ctx.settings.freshness;
  await stack.startWeb();
  if (!stack.worker) await stack.startWorker().ready;
  await waitForEmptyQueue(stack, 60_000);

  // id → when its 202 arrived; a poller takes ids out as their rows show up.
  const pending = new Map<string, number>();
  const visibleMs: number[] = [];
  let loading = true;
  const client = new Client({ connectionString: stack.deployment.databaseUrl });
  await client.connect();
  const poller = (async () => {
    let deadline = Infinity;
    while (loading || (pending.size > 0 && performance.now() < deadline)) {
      if (!loading && deadline === Infinity) deadline = performance.now() + ctx.settings.capsS.visibility * 1000;
      // The query's snapshot is taken when it starts: a row found was visible by then.
      const at = performance.now();
      if (pending.size > 0) {
        const { rows } = await client.query<{ id: string }>('select id from interactions where id = any($1::uuid[])', [
          [...pending.keys()],
        ]);
        for (const { id } of rows) {
          visibleMs.push(at - pending.get(id)!);
          pending.delete(id);
        }
      }
      await sleep(Math.max(0, at + pollMs - performance.now()));
    }
  })();

  try {
    const load = await openLoop({
      base: stack.baseUrl,
      rate,
      warmupS,
      durationS,
      next: () => ({ method: 'POST', path: '/interactions', ...interactionRequest(workload, workload.next()) }),
      onAnswer: (index, { arrivedAt, answer }) => {
        if (answer.status === 202 && index % sampleEvery === 0) pending.set((JSON.parse(answer.body) as { id: string }).id, arrivedAt);
      },
    });
    loading = false;
    await poller;
    const answered = Object.entries(load.statusCounts)
      .filter(([status]) => status !== 'error')
      .reduce((sum, [, n]) => sum + n, 0);
    return {
      targetRate: rate,
      warmupS,
      durationS,
      sent: load.sent,
      achievedRate: answered / load.seconds,
      statusCounts: load.statusCounts,
      acceptMs: distribution(load.latenciesMs),
      visibleMs: distribution(visibleMs),
      sampleEvery,
      sampled: visibleMs.length + pending.size,
      notVisible: pending.size,
      pollMs,
    };
  } finally {
    loading = false;
    await poller.catch(() => undefined);
    await client.end();
  }
}

async function waitForEmptyQueue(stack: Stack, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await stack.queue.counts()).pending > 0) {
    if (Date.now() > deadline) throw new Error('the queue still has jobs: freshness needs a drained backlog');
    await sleep(200);
  }
}
