// Phase 3: the service's worker on the ingest backlog, and the naive one-job-one-transaction
// baseline on a backlog of the same distribution, each timed until every row is in PostgreSQL.
import type { Pool } from 'pg';
import type { Context } from '../context';
import { countRows, createDeployment, dropDeployment, QueueProbe, REDIS_URL } from '../infra';
import { enqueueNaiveJobs } from '../naive-worker';
import { measuredEnv, sleep, startNode } from '../processes';
import type { DrainCpu, DrainMeasure, DrainResult, NaiveResult } from '../results';
import { cpuSnapshot, type CpuSnapshot } from '../rss';
import { seedEvents } from '../seed';
import { baseEnv, type Stack } from '../stack';
import { naiveJob, Workload } from '../workload';

export interface DrainWatch {
  pool: Pool;
  queue: QueueProbe;
  /** New rows expected beyond `baseline`. */
  expected: number;
  baseline: number;
  /** Optional filter of the rows counted (the cost phase counts one user's). */
  where?: { sql: string; params: unknown[] };
  startedAt: number;
  capS: number;
  pollMs: number;
  /** False once the worker died: no point waiting for the cap then. */
  alive: () => boolean;
  /** Called once, when the first new row is counted, with the rows counted then. */
  onFirstRow?: (rows: number) => void;
}

/**
 * Polls the queue until no job is left and the expected rows are all there, the queue runs dry short
 * of them, the worker dies, or the cap passes. The rows are counted only when the queue first shows
 * progress and once it holds nothing pending: a count(*) of the table every poll cost PostgreSQL about
 * a seventh of its time during the drain it was measuring. The rate is taken between the first count
 * that saw a new row and the last one, so it excludes start-up.
 */
export async function waitDrained(watch: DrainWatch): Promise<DrainMeasure> {
  const goal = watch.baseline + watch.expected;
  const count = () => countRows(watch.pool, watch.where ? `where ${watch.where.sql}` : '', watch.where?.params);
  let first: { at: number; rows: number } | undefined;
  let drySince: number | undefined;
  let rows = watch.baseline;
  let failedJobs = 0;
  let note: string | undefined;
  let completed = false;
  let at = performance.now();
  let startPending: number | undefined;
  for (;;) {
    at = performance.now();
    const queue = await watch.queue.counts();
    failedJobs = queue.failed;
    startPending ??= queue.pending;
    const progressed = queue.pending < startPending || queue.completed > 0;
    const capped = at - watch.startedAt > watch.capS * 1000;
    if ((!first && progressed) || queue.pending === 0 || capped || !watch.alive()) {
      rows = await count();
      if (!first && rows > watch.baseline) {
        first = { at, rows };
        watch.onFirstRow?.(rows);
      }
    }
    if (queue.pending === 0 && rows >= goal) {
      completed = true;
      break;
    }
    if (queue.pending === 0) {
      drySince ??= at;
      // A last transaction may still be committing after its job was marked done: give it time.
      if (at - drySince > 3000) {
        note = `queue empty but ${goal - rows} rows missing (${failedJobs} failed jobs)`;
        break;
      }
    } else {
      drySince = undefined;
    }
    if (!watch.alive()) {
      note = 'the worker exited';
      break;
    }
    if (capped) {
      note = `stopped at the ${watch.capS} s cap`;
      break;
    }
    await sleep(Math.max(0, at + watch.pollMs - performance.now()));
  }
  const secondsFromStart = (at - watch.startedAt) / 1000;
  const ratePerSFromStart = (rows - watch.baseline) / Math.max(secondsFromStart, 1e-3);
  const seconds = first ? (at - first.at) / 1000 : 0;
  // When everything landed before the second poll there is no window to measure within.
  const ratePerS = first && rows > first.rows && seconds > 0 ? (rows - first.rows) / seconds : ratePerSFromStart;
  return {
    expected: watch.expected,
    rows: rows - watch.baseline,
    completed,
    note,
    seconds,
    ratePerS,
    secondsFromStart,
    ratePerSFromStart,
    failedJobs,
  };
}

export async function runDrain(ctx: Context, stack: Stack, accepted: number): Promise<DrainResult> {
  const baseline = await countRows(stack.pool);
  const { spawnedAt, ready } = stack.startWorker();
  const worker = stack.worker!;
  let workerReadyS: number | undefined;
  ready.then(
    (at) => (workerReadyS = (at - spawnedAt) / 1000),
    (error: unknown) => ctx.log(`  worker never became ready: ${(error as Error).message}`),
  );
  // CPU from the first row to the co-occurrence caught up: everything the backlog cost, start-up excluded.
  let cpuFrom: { at: CpuSnapshot; rows: number } | undefined;
  const measure = await waitDrained({
    pool: stack.pool,
    queue: stack.queue,
    expected: accepted,
    baseline,
    startedAt: spawnedAt,
    capS: ctx.settings.capsS.drain,
    pollMs: 100,
    alive: () => worker.child.exitCode === null,
    onFirstRow: (rows) => (cpuFrom = { at: cpuSnapshot(worker.pid), rows }),
  });
  // Co-occurrence is folded apart from the rows: how long after the last row it caught up.
  const drainedAt = performance.now();
  let foldLagS: number | undefined;
  while (performance.now() - drainedAt < ctx.settings.capsS.drain * 1000) {
    const { rows } = await stack.pool.query<{ n: string }>('select count(*) as n from cooccurrence_pending');
    if (Number(rows[0]!.n) === 0) {
      foldLagS = (performance.now() - drainedAt) / 1000;
      break;
    }
    await sleep(100);
  }
  return {
    ...measure,
    workerReadyS,
    foldLagS,
    cpu: cpuFrom && foldLagS !== undefined ? cpuPerInteraction(cpuFrom, cpuSnapshot(worker.pid), baseline + measure.rows) : undefined,
  };
}

function cpuPerInteraction(from: { at: CpuSnapshot; rows: number }, to: CpuSnapshot, rows: number): DrainCpu | undefined {
  const interactions = rows - from.rows;
  if (interactions <= 0) return undefined;
  const micros = (key: keyof CpuSnapshot) => Math.round(((to[key] - from.at[key]) / interactions) * 1e6);
  return {
    interactions,
    micros: { machine: micros('machine'), postgres: micros('postgres'), worker: micros('worker'), redis: micros('redis') },
  };
}

export async function runNaive(ctx: Context): Promise<NaiveResult> {
  const { interactions, concurrency, poolMax } = ctx.settings.naive;
  const deployment = await createDeployment('naive', baseEnv());
  const queue = new QueueProbe(deployment.queuePrefix);
  try {
    // The same events count, users, seed and distribution as the ingest phase.
    const eventIds = await seedEvents(deployment.pool, ctx.settings.ingest.events);
    const workload = new Workload(eventIds, ctx.settings.ingest.users);
    ctx.log(`  enqueueing ${interactions} naive jobs (untimed)`);
    await enqueueNaiveJobs(
      REDIS_URL,
      deployment.queuePrefix,
      Array.from({ length: interactions }, () => naiveJob(workload.next())),
    );
    const worker = startNode(
      'naive-worker',
      ['--require', 'tsx/cjs', 'bench/naive-worker.ts'],
      measuredEnv(ctx.settings, {
        DATABASE_URL: deployment.databaseUrl,
        REDIS_URL,
        QUEUE_PREFIX: deployment.queuePrefix,
        CONCURRENCY: String(concurrency),
        POOL_MAX: String(poolMax),
      }),
    );
    ctx.rss.track('naive-worker', worker.pid);
    const measure = await waitDrained({
      pool: deployment.pool,
      queue,
      expected: interactions,
      baseline: 0,
      startedAt: worker.startedAt,
      capS: ctx.settings.capsS.naive,
      pollMs: 100,
      alive: () => worker.child.exitCode === null,
    });
    ctx.rss.untrack('naive-worker');
    await worker.stop();
    return { ...measure, concurrency, poolMax };
  } finally {
    await queue.close().catch(() => undefined);
    await dropDeployment(deployment);
  }
}
