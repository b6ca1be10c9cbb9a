// `npm run soak -- [--minutes N] [--warmup-minutes N] [--rate R]`: the real web and worker
// processes (from dist/) under a steady mix of every endpoint, open loop, for a long while. Every
// window it records throughput, errors, latency, memory and the backlog; at the end it checks that
// memory did not grow after the warm-up, that nothing failed, and that every accepted interaction
// is a row. Writes bench/results/soak.{json,md,svg}.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { runMain } from './cleanup';
import type { Context } from './context';
import { countRows, REDIS_URL } from './infra';
import { distribution, keepAliveAgent, send, type LoadRequest } from './load';
import { machine, serviceVersion } from './machine';
import { snapshotBuild, sleep } from './processes';
import { pretty, RESULTS_DIR } from './report';
import { commandCpuSeconds, cpuSeconds, readRssMb, RssSampler } from './rss';
import { parseArgs as parseBenchArgs } from './settings';
import { Stack } from './stack';
import { rng, Workload, type Interaction } from './workload';

interface SoakSettings {
  minutes: number;
  warmupMinutes: number;
  rate: number;
  windowS: number;
  users: number;
  events: number;
}

function parseArgs(argv: string[]): SoakSettings {
  const settings: SoakSettings = { minutes: 10, warmupMinutes: 2, rate: 200, windowS: 30, users: 5000, events: 2000 };
  const flags: Record<string, keyof SoakSettings> = {
    '--minutes': 'minutes',
    '--warmup-minutes': 'warmupMinutes',
    '--rate': 'rate',
    '--window': 'windowS',
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.includes('=')
      ? [argv[i]!.slice(0, argv[i]!.indexOf('=')), argv[i]!.slice(argv[i]!.indexOf('=') + 1)]
      : [argv[i]!, undefined];
    if (flag === '--help' || flag === '-h') {
      console.log('Usage: npm run soak -- [--minutes 10] [--warmup-minutes 2] [--rate 200] [--window 30]');
      process.exit(0);
    }
    const key = flags[flag!];
    const value = Number(inline ?? argv[++i]);
    if (!key || !(value > 0)) {
      console.error(`unknown argument or bad value: ${argv[i]}`);
      process.exit(2);
    }
    settings[key] = value;
  }
  return settings;
}

/** The endpoints a user of the platform calls, and how often (per 100 requests). */
const MIX = [
  ['interaction', 55],
  ['feed', 20],
  ['event', 8],
  ['collect', 5],
  ['uncollect', 3],
  ['collections', 3],
  ['apply', 3],
  ['application', 1],
  ['openapi', 2],
] as const;
type Kind = (typeof MIX)[number][0];

/** Answers that are part of normal use (a second application is a 409, say); anything else is an error. */
const EXPECTED: Record<Kind, number[]> = {
  interaction: [202],
  feed: [200],
  event: [200],
  collect: [201, 409],
  uncollect: [204, 404],
  collections: [200],
  apply: [201, 409],
  application: [200, 404],
  openapi: [200],
};

interface Window {
  /** Seconds since the load started, at the end of the window. */
  atS: number;
  warmup: boolean;
  sent: number;
  answered: number;
  reqPerS: number;
  errors: number;
  errorStatuses: Record<string, number>;
  p50Ms?: number;
  p99Ms?: number;
  rssMb: { web?: number; worker?: number };
  /** CPU used in the window, in cores (1 = one core busy all the time). */
  cpu: { web: number; worker: number; postgres: number };
  /** Redis's used_memory (the whole server: the queue, feed snapshots, rate limits). */
  redisMb: number;
  queuePending: number;
  queueFailed: number;
}

/** What each simulated user has made so far, so that later requests can refer to it. */
interface UserState {
  collectionId?: string;
  collected: string[];
  cursor?: string;
}

async function main(): Promise<void> {
  const settings = parseArgs(process.argv.slice(2));
  const log = (message: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${message}`);
  const rss = new RssSampler();
  const ctx: Context = { settings: parseBenchArgs([]), rss, log };
  log(`soak: ${settings.warmupMinutes} min warm-up + ${settings.minutes} min at ${settings.rate} req/s`);
  log(`running the build from ${await snapshotBuild()} (a copy of dist/)`);
  const startedAt = new Date().toISOString();
  const machineAtStart = await machine();

  const stack = await Stack.create(ctx, 'soak', settings.events);
  await stack.startWeb();
  await stack.startWorker().ready;
  const { rows: gigRows } = await stack.pool.query<{ id: string }>("select id from events where kind = 'gig'");
  const gigs = gigRows.map((r) => r.id);
  const workload = new Workload(stack.eventIds, settings.users, 7);
  const users = new Map<string, UserState>();
  const stateOf = (userId: string) => users.get(userId) ?? (users.set(userId, { collected: [] }), users.get(userId)!);
  // Seeded, as the workload is, so that two runs send the same requests.
  const uniform = rng(11);
  const pickKind = (): Kind => {
    let u = uniform() * 100;
    for (const [kind, weight] of MIX) if ((u -= weight) < 0) return kind;
    return 'interaction';
  };

  /** The next request, and what to remember from its answer. */
  const nextRequest = (): { kind: Kind; req: LoadRequest; onAnswer?: (status: number, body: string) => void } => {
    const interaction: Interaction = workload.next();
    const user = stateOf(interaction.userId);
    const headers = { authorization: `Bearer ${workload.token(interaction.userId)}`, 'content-type': 'application/json' };
    const gig = gigs[Math.floor(uniform() * gigs.length)]!;
    const kind = pickKind();
    switch (kind) {
      case 'interaction':
        return {
          kind,
          req: {
            method: 'POST',
            path: '/interactions',
            headers,
            body: JSON.stringify({ eventId: interaction.eventId, action: interaction.action }),
          },
        };
      case 'feed': {
        // A third of feed requests page on from the user's last cursor.
        const cursor = user.cursor && uniform() < 0.33 ? `&cursor=${encodeURIComponent(user.cursor)}` : '';
        return {
          kind,
          req: { method: 'GET', path: `/recommendations?limit=20${cursor}`, headers },
          onAnswer: (status, body) => {
            if (status === 200) user.cursor = (JSON.parse(body) as { nextCursor: string | null }).nextCursor ?? undefined;
          },
        };
      }
      case 'event':
        return { kind, req: { method: 'GET', path: `/events/${interaction.eventId}`, headers } };
      case 'collect':
        if (!user.collectionId) {
          return {
            kind,
            req: { method: 'POST', path: '/collections', headers, body: JSON.stringify({ name: 'Soak' }) },
            onAnswer: (status, body) => {
              if (status === 201) user.collectionId = (JSON.parse(body) as { id: string }).id;
            },
          };
        }
        return {
          kind,
          req: {
            method: 'POST',
            path: `/collections/${user.collectionId}/events`,
            headers,
            body: JSON.stringify({ eventId: interaction.eventId }),
          },
          onAnswer: (status) => status === 201 && user.collected.push(interaction.eventId),
        };
      case 'uncollect': {
        const eventId = user.collected.shift() ?? interaction.eventId;
        return {
          kind,
          req: { method: 'DELETE', path: `/collections/${user.collectionId ?? interaction.eventId}/events/${eventId}`, headers },
        };
      }
      case 'collections':
        return { kind, req: { method: 'GET', path: '/collections', headers } };
      case 'apply':
        return { kind, req: { method: 'POST', path: `/gigs/${gig}/applications`, headers, body: JSON.stringify({ message: 'Soak' }) } };
      case 'application':
        return { kind, req: { method: 'GET', path: `/gigs/${gig}/applications/me`, headers } };
      case 'openapi':
        return { kind, req: { method: 'GET', path: '/openapi.json', headers: {} } };
    }
  };

  // Interactions the service accepted, by any route: 202s, and SAVEs and APPLYs of 201s.
  let acceptedInteractions = 0;
  const windows: Window[] = [];
  const totals = { sent: 0, byKind: {} as Record<string, Record<string, number>> };
  let current = { sent: 0, answered: 0, errors: 0, errorStatuses: {} as Record<string, number>, latencies: [] as number[] };
  const agent = keepAliveAgent(512);
  const base = stack.baseUrl;
  const interval = 1000 / settings.rate;
  const totalS = (settings.warmupMinutes + settings.minutes) * 60;
  const loadStart = performance.now();
  let windowStart = loadStart;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  const redisMb = async () => Math.round(Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0) / 2 ** 20);
  const cpuNow = () => ({
    web: cpuSeconds(stack.web!.pid),
    worker: cpuSeconds(stack.worker!.pid),
    postgres: commandCpuSeconds('postgres'),
  });
  let cpuAtWindowStart = cpuNow();
  let sent = 0;
  const inFlight = new Set<Promise<void>>();

  const closeWindow = async (now: number) => {
    const counts = await stack.queue.counts().catch(() => ({ pending: -1, failed: -1 }));
    const lat = distribution(current.latencies);
    const atS = (now - loadStart) / 1000;
    const cpuAtEnd = cpuNow();
    const seconds = (now - windowStart) / 1000;
    const cores = (name: keyof typeof cpuAtEnd) => Math.round(((cpuAtEnd[name] - cpuAtWindowStart[name]) / seconds) * 100) / 100;
    const window: Window = {
      atS: Math.round(atS),
      warmup: atS <= settings.warmupMinutes * 60 + 1,
      sent: current.sent,
      answered: current.answered,
      reqPerS: current.answered / ((now - windowStart) / 1000),
      errors: current.errors,
      errorStatuses: current.errorStatuses,
      p50Ms: lat?.p50,
      p99Ms: lat?.p99,
      rssMb: { web: readRssMb(stack.web!.pid), worker: readRssMb(stack.worker!.pid) },
      cpu: { web: cores('web'), worker: cores('worker'), postgres: cores('postgres') },
      redisMb: await redisMb().catch(() => -1),
      queuePending: counts.pending,
      queueFailed: counts.failed,
    };
    windows.push(window);
    log(
      `  ${String(window.atS).padStart(5)} s${window.warmup ? ' (warm-up)' : ''}: ${window.reqPerS.toFixed(0)} req/s, ` +
        `${window.errors} errors, p50 ${lat?.p50.toFixed(1)} ms, p99 ${lat?.p99.toFixed(1)} ms, ` +
        `RSS web ${window.rssMb.web} MB / worker ${window.rssMb.worker} MB, ` +
        `CPU web ${window.cpu.web} / worker ${window.cpu.worker} / postgres ${window.cpu.postgres}, Redis ${window.redisMb} MB, backlog ${window.queuePending}, failed ${window.queueFailed}`,
    );
    current = { sent: 0, answered: 0, errors: 0, errorStatuses: {}, latencies: [] };
    windowStart = now;
    cpuAtWindowStart = cpuAtEnd;
  };

  // Open loop: each request leaves at its scheduled time, whether or not earlier ones were answered.
  while (performance.now() - loadStart < totalS * 1000) {
    const now = performance.now();
    while (loadStart + sent * interval <= now) {
      const scheduled = loadStart + sent * interval;
      sent += 1;
      current.sent += 1;
      totals.sent += 1;
      const { kind, req, onAnswer } = nextRequest();
      const done = send(agent, base, req).then(
        (answer) => {
          const byKind = (totals.byKind[kind] ??= {});
          byKind[answer.status] = (byKind[answer.status] ?? 0) + 1;
          current.answered += 1;
          current.latencies.push(performance.now() - scheduled);
          if (!EXPECTED[kind].includes(answer.status)) {
            current.errors += 1;
            const key = `${kind} ${answer.status}`;
            current.errorStatuses[key] = (current.errorStatuses[key] ?? 0) + 1;
          }
          if (answer.status === 202 || ((kind === 'collect' || kind === 'apply') && answer.status === 201 && req.path !== '/collections')) {
            acceptedInteractions += 1;
          }
          onAnswer?.(answer.status, answer.body);
        },
        () => {
          current.errors += 1;
          current.errorStatuses[`${kind} no answer`] = (current.errorStatuses[`${kind} no answer`] ?? 0) + 1;
        },
      );
      inFlight.add(done);
      void done.finally(() => inFlight.delete(done));
    }
    if (now - windowStart >= settings.windowS * 1000) await closeWindow(now);
    await sleep(1);
  }
  await Promise.all(inFlight);
  await closeWindow(performance.now());
  agent.destroy();

  // Everything accepted must end up as a row, with nothing failed.
  log('load stopped; waiting for the worker to drain');
  const drainDeadline = Date.now() + 120_000;
  let counts = await stack.queue.counts();
  while (counts.pending > 0 && Date.now() < drainDeadline) {
    await sleep(500);
    counts = await stack.queue.counts();
  }
  const { rows: outboxRows } = await stack.pool.query<{ n: string }>('select count(*) as n from outbox');
  const rows = await countRows(stack.pool);
  await stack.destroy();
  redis.disconnect();
  rss.stop();

  const measured = windows.filter((w) => !w.warmup);
  // Medians of the first and the last fifth of the measured windows: one GC cycle moves RSS a lot.
  const growth = (value: (w: Window) => number) => {
    const fifth = Math.max(1, Math.floor(measured.length / 5));
    const median = (ws: Window[]) => ws.map(value).sort((a, b) => a - b)[Math.floor(ws.length / 2)]!;
    const first = median(measured.slice(0, fifth));
    const last = median(measured.slice(-fifth));
    return { firstMb: first, lastMb: last, growth: last / first - 1 };
  };
  const latencies = distribution(measured.flatMap((w) => (w.p99Ms === undefined ? [] : [w.p99Ms])));
  const result = {
    startedAt,
    finishedAt: new Date().toISOString(),
    service: serviceVersion(),
    machine: { ...machineAtStart, loadAverageAtEnd: os.loadavg() },
    settings,
    windows,
    byKind: totals.byKind,
    summary: {
      sent: totals.sent,
      errors: measured.reduce((sum, w) => sum + w.errors, 0),
      warmupErrors: windows.filter((w) => w.warmup).reduce((sum, w) => sum + w.errors, 0),
      meanReqPerS: measured.reduce((sum, w) => sum + w.reqPerS, 0) / Math.max(1, measured.length),
      worstWindowP99Ms: latencies?.max,
      medianWindowP99Ms: latencies?.p50,
      rss: { web: growth((w) => w.rssMb.web!), worker: growth((w) => w.rssMb.worker!) },
      redis: growth((w) => w.redisMb),
      acceptedInteractions,
      rows,
      outboxLeft: Number(outboxRows[0]!.n),
      queuePendingAtEnd: counts.pending,
      queueFailed: counts.failed,
    },
  };
  const md = await writeSoakReport(result);
  console.log(`\n${md}`);
  log('results in bench/results/soak.{json,md,svg}');
  const s = result.summary;
  const ok =
    s.errors === 0 &&
    s.queueFailed === 0 &&
    s.queuePendingAtEnd === 0 &&
    s.rows === s.acceptedInteractions &&
    s.rss.web.growth < 0.1 &&
    s.rss.worker.growth < 0.1;
  if (!ok) process.exitCode = 1;
}

type SoakResult = {
  settings: SoakSettings;
  machine: { cpu: string; cores: number; node: string; postgres: string; redis: string };
  service: { commit: string };
  windows: Window[];
  byKind: Record<string, Record<string, number>>;
  summary: {
    sent: number;
    errors: number;
    warmupErrors: number;
    meanReqPerS: number;
    worstWindowP99Ms?: number;
    medianWindowP99Ms?: number;
    rss: Record<'web' | 'worker', { firstMb: number; lastMb: number; growth: number }>;
    redis: { firstMb: number; lastMb: number; growth: number };
    acceptedInteractions: number;
    rows: number;
    outboxLeft: number;
    queuePendingAtEnd: number;
    queueFailed: number;
  };
};

async function writeSoakReport(result: SoakResult): Promise<string> {
  const s = result.summary;
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const status = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  const m = result.machine;
  const md = [
    `# Soak: ${result.settings.warmupMinutes} min warm-up + ${result.settings.minutes} min at ${result.settings.rate} req/s`,
    '',
    `${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.postgres}, Redis ${m.redis}; commit ${result.service.commit.slice(0, 7)}.`,
    `A mix of every endpoint (per 100 requests: ${MIX.map(([k, w]) => `${w} ${k}`).join(', ')}), open loop, ${result.settings.windowS} s windows.`,
    '',
    '| Measure | Value | Target | Status |',
    '| --- | --- | --- | --- |',
    `| Requests sent; errors after warm-up (5xx, no answer, or an answer the endpoint never gives in normal use); during warm-up | ${s.sent.toLocaleString('en-US')}; ${s.errors}; ${s.warmupErrors} | 0 errors after warm-up | ${status(s.errors === 0)} |`,
    `| Throughput after warm-up (mean of windows) | ${s.meanReqPerS.toFixed(0)} req/s | ${result.settings.rate} | ${status(s.meanReqPerS >= 0.95 * result.settings.rate)} |`,
    `| p99 latency per window: median, worst | ${s.medianWindowP99Ms?.toFixed(1)} ms, ${s.worstWindowP99Ms?.toFixed(1)} ms | | info |`,
    `| Web RSS after warm-up: first → last fifth (medians) | ${s.rss.web.firstMb} → ${s.rss.web.lastMb} MB (${pct(s.rss.web.growth)}) | < 10 % growth | ${status(s.rss.web.growth < 0.1)} |`,
    `| Worker RSS after warm-up: first → last fifth (medians) | ${s.rss.worker.firstMb} → ${s.rss.worker.lastMb} MB (${pct(s.rss.worker.growth)}) | < 10 % growth | ${status(s.rss.worker.growth < 0.1)} |`,
    `| Redis memory after warm-up: first → last fifth (medians) | ${s.redis.firstMb} → ${s.redis.lastMb} MB (${pct(s.redis.growth)}) | | info |`,
    `| Interactions accepted (202, and the SAVE/APPLY of each 201) → rows | ${s.acceptedInteractions.toLocaleString('en-US')} → ${s.rows.toLocaleString('en-US')} | equal | ${status(s.rows === s.acceptedInteractions)} |`,
    `| Jobs failed, left in the queue, outbox rows left | ${s.queueFailed}, ${s.queuePendingAtEnd}, ${s.outboxLeft} | 0 | ${status(s.queueFailed === 0 && s.queuePendingAtEnd === 0 && s.outboxLeft === 0)} |`,
    '',
    '| At | req/s | errors | p50 | p99 | web RSS | worker RSS | CPU (cores): web, worker, postgres | Redis memory | backlog |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...result.windows.map(
      (w) =>
        `| ${w.atS} s${w.warmup ? ' (warm-up)' : ''} | ${w.reqPerS.toFixed(0)} | ${w.errors} | ${w.p50Ms?.toFixed(1)} ms | ${w.p99Ms?.toFixed(1)} ms | ${w.rssMb.web} MB | ${w.rssMb.worker} MB | ${w.cpu.web}, ${w.cpu.worker}, ${w.cpu.postgres} | ${w.redisMb} MB | ${w.queuePending} |`,
    ),
    '',
  ].join('\n');
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(path.join(RESULTS_DIR, 'soak.json'), await pretty('soak.json', JSON.stringify(result)));
  const formatted = await pretty('soak.md', md);
  writeFileSync(path.join(RESULTS_DIR, 'soak.md'), formatted);
  writeFileSync(path.join(RESULTS_DIR, 'soak.svg'), chart(result));
  return formatted;
}

/** RSS of both processes and the p99 of each window over time. */
function chart(result: SoakResult): string {
  const w = 760;
  const h = 260;
  const pad = { left: 50, right: 50, top: 30, bottom: 30 };
  const ws = result.windows;
  const maxT = Math.max(...ws.map((x) => x.atS), 1);
  const maxMb = Math.max(...ws.flatMap((x) => [x.rssMb.web ?? 0, x.rssMb.worker ?? 0]), 1) * 1.1;
  const maxMs = Math.max(...ws.map((x) => x.p99Ms ?? 0), 1) * 1.1;
  const x = (t: number) => pad.left + (t / maxT) * (w - pad.left - pad.right);
  const y = (v: number, max: number) => h - pad.bottom - (v / max) * (h - pad.top - pad.bottom);
  const line = (values: [number, number | undefined][], max: number, color: string) =>
    `<polyline fill="none" stroke="${color}" stroke-width="2" points="${values
      .filter(([, v]) => v !== undefined)
      .map(([t, v]) => `${x(t).toFixed(1)},${y(v!, max).toFixed(1)}`)
      .join(' ')}"/>`;
  const warmEnd = result.settings.warmupMinutes * 60;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="11">
<rect x="${pad.left}" y="${pad.top}" width="${x(Math.min(warmEnd, maxT)) - pad.left}" height="${h - pad.top - pad.bottom}" fill="#eee"/>
<text x="${pad.left + 4}" y="${pad.top + 12}">warm-up</text>
<text x="${w / 2}" y="16" text-anchor="middle" font-size="13">Soak: RSS (MB, left) and p99 per window (ms, right) over ${Math.round(maxT)} s</text>
<line x1="${pad.left}" y1="${h - pad.bottom}" x2="${w - pad.right}" y2="${h - pad.bottom}" stroke="#333"/>
<text x="${pad.left - 4}" y="${pad.top + 4}" text-anchor="end">${maxMb.toFixed(0)}</text>
<text x="${w - pad.right + 4}" y="${pad.top + 4}">${maxMs.toFixed(0)}</text>
${line(
  ws.map((p) => [p.atS, p.rssMb.web]),
  maxMb,
  '#1f77b4',
)}
${line(
  ws.map((p) => [p.atS, p.rssMb.worker]),
  maxMb,
  '#2ca02c',
)}
${line(
  ws.map((p) => [p.atS, p.p99Ms]),
  maxMs,
  '#d62728',
)}
<text x="${pad.left}" y="${h - 8}" fill="#1f77b4">web RSS</text>
<text x="${pad.left + 70}" y="${h - 8}" fill="#2ca02c">worker RSS</text>
<text x="${pad.left + 150}" y="${h - 8}" fill="#d62728">p99</text>
</svg>
`;
}

runMain(main);
