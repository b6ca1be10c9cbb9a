// Phases 1 and 2: the bare-Express ceiling and POST /interactions, loaded identically.
import type { Context } from '../context';
import { closedLoop, sendMany, type LoadRequest } from '../load';
import { measuredEnv, sparePort, startNode, waitReady } from '../processes';
import type { CeilingResult, IngestResult } from '../results';
import type { Stack } from '../stack';
import { interactionRequest, Workload } from '../workload';

/**
 * The request sequence both phases send, computed before either starts (tokens signed, bodies
 * serialised), so the load generator spends its time sending and both get the same bytes.
 */
export function ingestRequests(workload: Workload, count: number): LoadRequest[] {
  return Array.from({ length: count }, () => ({ method: 'POST', path: '/interactions', ...interactionRequest(workload, workload.next()) }));
}

export function cycle<T>(items: T[]): () => T {
  let i = 0;
  return () => items[i++ % items.length]!;
}

export async function runCeiling(ctx: Context, requests: LoadRequest[]): Promise<CeilingResult> {
  const { connections, warmupS, durationS } = ctx.settings.ingest;
  const port = await sparePort();
  // tsx only transpiles at load; the server then runs as plain JavaScript, like the service's build.
  const ceiling = startNode(
    'ceiling',
    ['--require', 'tsx/cjs', 'bench/ceiling.ts'],
    measuredEnv(ctx.settings, { NODE_ENV: 'production', PORT: String(port) }),
  );
  ctx.rss.track('ceiling', ceiling.pid);
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitReady(`${url}/readyz`, ceiling);
    const next = cycle(requests);
    await closedLoop({ url, connections, durationS: warmupS, next });
    const measured = await closedLoop({ url, connections, durationS, next });
    return { connections, warmupS, measured };
  } finally {
    ctx.rss.untrack('ceiling');
    await ceiling.stop();
  }
}

/**
 * With the worker stopped, so that every accepted interaction stays queued: the drain phase's
 * backlog. Tops the backlog up, untimed, when the timed window accepted fewer than wanted.
 */
export async function runIngest(
  ctx: Context,
  stack: Stack,
  requests: LoadRequest[],
  workload: Workload,
  ceiling?: CeilingResult,
): Promise<IngestResult> {
  const { connections, warmupS, durationS, users, events, backlog } = ctx.settings.ingest;
  if (stack.worker) throw new Error('ingest must run with the worker stopped');
  await stack.startWeb();
  const url = stack.baseUrl.origin;
  const next = cycle(requests);
  const warmup = await closedLoop({ url, connections, durationS: warmupS, next });
  const measured = await closedLoop({ url, connections, durationS, next });
  const accepted = { warmup: warmup.statusCounts['202'] ?? 0, timed: measured.statusCounts['202'] ?? 0, topUp: 0, total: 0 };
  const topUp = await fillBacklog(ctx, stack, workload, backlog - accepted.warmup - accepted.timed);
  accepted.topUp = topUp['202'] ?? 0;
  accepted.total = accepted.warmup + accepted.timed + accepted.topUp;
  const queuedJobs = (await stack.queue.counts()).pending;
  const vsCeiling = ceiling && {
    throughputRatio: measured.reqPerS / ceiling.measured.reqPerS,
    p99Ratio: measured.p99Ms / Math.max(ceiling.measured.p99Ms, 1),
  };
  return { connections, warmupS, users, events, measured, accepted, topUpStatusCounts: topUp, queuedJobs, vsCeiling };
}

/** Posts `count` more interactions through the API, 64 at a time, untimed. */
export async function fillBacklog(ctx: Context, stack: Stack, workload: Workload, count: number): Promise<Record<string, number>> {
  if (count <= 0) return {};
  ctx.log(`  topping the backlog up with ${count} interactions (untimed)`);
  return sendMany(stack.baseUrl, count, 64, () => ({
    method: 'POST',
    path: '/interactions',
    ...interactionRequest(workload, workload.next()),
  }));
}
