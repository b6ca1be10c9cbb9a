// Phase 8: a real log replayed through the public API, as a platform would fill the service: each
// event created with POST /events, each user's history posted in time order through
// POST /interactions/batch with occurredAt (the log's time span squeezed into the allowed age),
// drained by the worker. Each user's last positive is held out of what is posted, and once the
// workers have stored the rest and fitted the item model, every user's first page, the same within
// the held-out event's category, and the similar events of their last positive before it are
// scored against it, as a platform replaying its own log would check the feed. Then, at 1, 4 and
// 16 connections: first pages ranked on request, the same pages from the stored ranking, first
// pages within a category, and similar events, each with the CPU every process spent per request.
import { existsSync } from 'node:fs';
import type { Context } from '../context';
import { closedLoop, type ClosedLoopResult, type LoadRequest } from '../load';
import type { ReplayQuality, ReplayResult } from '../results';
import { commandCpuSeconds, cpuSeconds } from '../rss';
import { Stack } from '../stack';
import { rng, signToken } from '../workload';
import { readEvalFiles, squeezeFactor, type EvalInteraction } from '../../eval/data';
import { heldOutCases, heldOutInteractions, Tally } from '../../eval/evaluate';
import { cycle } from './throughput';

const DAY_MS = 86_400_000;
/** The service's INTERACTION_MAX_AGE_DAYS for the replay; the log's span is squeezed into most of it. */
const DEFAULT_MAX_AGE_DAYS = 365;
const CONNECTIONS = [1, 4, 16];
const BATCH = 500;
const SENDERS = 4;

export async function runReplay(ctx: Context): Promise<ReplayResult> {
  const { interactions: interactionsFile, events: eventsFile, warmupS, durationS, qualityOnly } = ctx.settings.replay;
  const maxAgeDays = ctx.settings.replay.maxAgeDays ?? DEFAULT_MAX_AGE_DAYS;
  if (!existsSync(interactionsFile) || !existsSync(eventsFile)) {
    return { skipped: `no log at ${interactionsFile} and ${eventsFile}` } as ReplayResult;
  }
  const data = await readEvalFiles(interactionsFile, eventsFile);
  const env = { INTERACTION_MAX_AGE_DAYS: String(maxAgeDays), RATE_LIMIT_WRITES_PER_MINUTE: '0', RATE_LIMIT_READS_PER_MINUTE: '0' };
  const stack = await Stack.create(ctx, 'replay', 0, env);
  try {
    await stack.startWeb();
    const base = stack.baseUrl.origin;
    const admin = signToken('replay-admin', ['admin']);
    const post = async (path: string, body: unknown, token: string) => {
      const res = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return res.json() as Promise<Record<string, unknown>>;
    };

    // Events, each starting some time in the next 60 days.
    const random = rng(11);
    const logIds = [...new Set([...data.events.keys(), ...data.interactions.map((i) => i.eventId)])];
    const ids = new Map<string, string>();
    ctx.log(`  creating ${logIds.length} events through POST /events`);
    await inParallel(logIds, 8, async (logId) => {
      const features = data.events.get(logId);
      const created = await post(
        '/events',
        {
          title: `Replayed ${logId}`,
          startsAt: new Date(Date.now() + DAY_MS + random() * 59 * DAY_MS).toISOString(),
          kind: random() < 0.2 ? 'gig' : 'event',
          category: features?.category ?? null,
          tags: (features?.tags ?? []).slice(0, 20).map((t) => t.slice(0, 50)),
          city: features?.city ?? null,
        },
        admin,
      );
      ids.set(logId, created.id as string);
    });

    // Histories, each user's in time order (ties: the log's order), squeezed into the allowed age.
    const ordered = data.interactions
      .map((interaction, index) => ({ interaction, index }))
      .sort((a, b) => a.interaction.at.getTime() - b.interaction.at.getTime() || a.index - b.index)
      .map(({ interaction }) => interaction);
    const last = ordered[ordered.length - 1]!.at.getTime();
    const squeeze = squeezeFactor(ordered[0]!.at, ordered[ordered.length - 1]!.at, maxAgeDays);
    const heldOut = heldOutInteractions(ordered);
    const now = Date.now();
    const byUser = new Map<string, typeof ordered>();
    for (const interaction of ordered) {
      if (heldOut.has(interaction)) continue;
      const history = byUser.get(interaction.userId) ?? [];
      history.push(interaction);
      byUser.set(interaction.userId, history);
    }
    const users = [...byUser.keys()];
    ctx.log(
      `  posting ${ordered.length - heldOut.size} interactions of ${users.length} users, ${heldOut.size} held out (time squeezed ${squeeze.toFixed(1)}×)`,
    );
    stack.startWorker();
    const sendStarted = performance.now();
    let accepted = 0;
    await inParallel(users, SENDERS, async (user) => {
      const history = byUser.get(user)!;
      const token = signToken(user);
      for (let i = 0; i < history.length; i += BATCH) {
        const items = history.slice(i, i + BATCH).map((x) => ({
          eventId: ids.get(x.eventId)!,
          action: x.action,
          occurredAt: new Date(now - 60_000 - (last - x.at.getTime()) / squeeze).toISOString(),
        }));
        const answer = (await post('/interactions/batch', { interactions: items }, token)) as { results: { status: number }[] };
        accepted += answer.results.filter((r) => r.status === 202).length;
      }
    });
    const sentS = (performance.now() - sendStarted) / 1000;
    const stored = async () => Number((await stack.pool.query('select count(*) as n from interactions')).rows[0].n);
    const folded = async () => Number((await stack.pool.query('select count(*) as n from cooccurrence_pending')).rows[0].n) === 0;
    const since = () => (performance.now() - sendStarted) / 1000;
    const pause = () => new Promise((resolve) => setTimeout(resolve, 200));
    while ((await stored()) < accepted) await pause();
    const storedS = since();
    // Folding and fitting go on side by side once the rows are in: each is timed on its own.
    let drainS: number | undefined;
    let fittedS: number | undefined;
    const fitDeadline = Date.now() + 300_000;
    while (drainS === undefined || fittedS === undefined) {
      if (drainS === undefined && (await folded())) drainS = since();
      if (fittedS === undefined && (await itemModelFitted(stack))) fittedS = since();
      if (fittedS === undefined && Date.now() > fitDeadline) throw new Error('the item model was not fitted on the replay in 300 s');
      await pause();
    }
    ctx.log(
      `  ${accepted} accepted in ${sentS.toFixed(1)} s, stored after ${storedS.toFixed(1)} s, folded after ${drainS.toFixed(1)} s, the item model fitted after ${fittedS.toFixed(1)} s`,
    );
    await stack.pool.query('analyze');

    const quality = await scoreHeldOut(base, ordered, heldOut, ids, data.events);
    ctx.log(
      `  held out, through the API (HR@10 / NDCG@10): feed ${pair(quality.feed)}, within the category ${pair(quality.filtered)}, similar events ${pair(quality.similar)}`,
    );
    const result = {
      interactionsFile,
      users: users.length,
      events: logIds.length,
      interactions: ordered.length,
      accepted,
      squeeze,
      maxAgeDays,
      sendS: sentS,
      storedS,
      drainS,
      drainPerS: accepted / drainS,
      fittedS,
      durationS,
      quality,
      shapes: {} as ReplayResult['shapes'],
    };
    if (qualityOnly) return result;

    // The pages, each shape at each concurrency. Afresh: a web process that never serves a stored ranking.
    const tokens = users.map((user) => signToken(user));
    const categories = [...new Set([...data.events.values()].map((e) => e.category).filter((c): c is string => !!c))];
    const eventIds = [...ids.values()];
    const get = (path: string, token: string): LoadRequest => ({ method: 'GET', path, headers: { authorization: `Bearer ${token}` } });
    const pick = <T>(values: T[]) => values[Math.floor(random() * values.length)]!;
    const firstPages = tokens.map((token) => get('/recommendations?limit=20', token));
    const filtered = tokens.map((token) => get(`/recommendations?limit=20&category=${encodeURIComponent(pick(categories))}`, token));
    const similar = tokens.map((token) => get(`/events/${pick(eventIds)}/similar?limit=10`, token));

    const measure = async (requests: LoadRequest[]): Promise<ReplayResult['shapes'][string]> => {
      const rows: ReplayResult['shapes'][string] = [];
      for (const connections of CONNECTIONS) {
        const next = cycle(requests);
        await closedLoop({ url: base, connections, durationS: warmupS, next });
        const before = cpu(stack);
        const result = await closedLoop({ url: base, connections, durationS, next });
        const after = cpu(stack);
        const perRequest = (key: keyof typeof before) => ((after[key] - before[key]) * 1e6) / Math.max(1, result.requests);
        rows.push({
          connections,
          result,
          cpuUsPerRequest: {
            web: perRequest('web'),
            worker: perRequest('worker'),
            postgres: perRequest('postgres'),
            redis: perRequest('redis'),
          },
        });
        ctx.log(`    ${connections} connections: ${summary(result)}`);
      }
      return rows;
    };
    const shapes = result.shapes;
    await stack.restartWeb({ FEED_RANKING_MAX_AGE_S: '0' });
    ctx.log('  first pages, ranked on request');
    shapes.afresh = await measure(firstPages);
    ctx.log('  first pages within a category, ranked on request');
    shapes.filtered = await measure(filtered);
    await stack.restartWeb({});
    ctx.log('  similar events');
    shapes.similar = await measure(similar);
    // Each user asks once, untimed: their next first pages come from the stored ranking.
    await closedLoop({ url: base, connections: 4, durationS: Math.max(1, tokens.length / 200), next: cycle(firstPages) });
    ctx.log('  first pages, from the stored ranking');
    shapes.stored = await measure(firstPages);
    return result;
  } finally {
    await stack.destroy();
  }
}

/** Whether the workers' item model is fitted on every positive stored: the feed is then as it will stay. */
async function itemModelFitted(stack: Stack): Promise<boolean> {
  const { rows } = await stack.pool.query(
    `select (select sum(engaged)::bigint from event_popularity) as positives,
            (select (settings->>'positives')::bigint from model_state where name = 'item_model') as fitted`,
  );
  return rows[0].fitted !== null && rows[0].fitted === rows[0].positives;
}

/**
 * Each user's held-out event against what the API answers them now: their first page of 10, the
 * same within the held-out event's category, and the similar events of the last event they were
 * positive about before it (HR@10, NDCG@10 with one relevant event; the whole catalogue).
 */
async function scoreHeldOut(
  base: string,
  ordered: EvalInteraction[],
  heldOut: Set<EvalInteraction>,
  ids: Map<string, string>,
  events: Map<string, { category: string | null }>,
): Promise<ReplayQuality> {
  const tallies = { feed: new Tally(10), filtered: new Tally(10), similar: new Tally(10) };
  const rankIn = async (path: string, token: string, eventId: string) => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    const at = ((await res.json()) as { items: { eventId: string }[] }).items.findIndex((item) => item.eventId === eventId);
    return at === -1 ? undefined : at;
  };
  await inParallel(heldOutCases(ordered, heldOut), 4, async ({ interaction: { userId, eventId }, lastPositive }) => {
    const token = signToken(userId);
    const target = ids.get(eventId)!;
    const category = events.get(eventId)?.category;
    tallies.feed.add(await rankIn('/recommendations?limit=10', token, target));
    if (category) tallies.filtered.add(await rankIn(`/recommendations?limit=10&category=${encodeURIComponent(category)}`, token, target));
    if (lastPositive) tallies.similar.add(await rankIn(`/events/${ids.get(lastPositive)}/similar?limit=10`, token, target));
  });
  const result = (tally: Tally) => ({ users: tally.n, ...tally.result() });
  return { feed: result(tallies.feed), filtered: result(tallies.filtered), similar: result(tallies.similar) };
}

const pair = (a: ReplayQuality['feed']) => `${a.hitRate.toFixed(4)} / ${a.ndcg.toFixed(4)} (${a.users})`;

function cpu(stack: Stack) {
  return {
    web: stack.web ? cpuSeconds(stack.web.pid) : 0,
    worker: stack.worker ? cpuSeconds(stack.worker.pid) : 0,
    postgres: commandCpuSeconds('postgres'),
    redis: commandCpuSeconds('redis-server'),
  };
}

const summary = (r: ClosedLoopResult) =>
  `${r.reqPerS.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, non-2xx ${r.non2xx}`;

async function inParallel<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}
