// latest.json, latest.md (measure, value, target, status) and latest.svg from one run's results.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as prettier from 'prettier';
import type { ClosedLoopResult, Distribution } from './load';
import type { BenchResults } from './results';

export const RESULTS_DIR = path.join(__dirname, 'results');

type Status = 'PASS' | 'FAIL' | 'info' | 'n/a';

export interface Row {
  measure: string;
  value: string;
  target: string;
  status: Status;
}

const num = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ms = (n: number | undefined) => (n === undefined ? '–' : `${num(n, n < 10 ? 1 : 0)} ms`);
const check = (ok: boolean | undefined): Status => (ok === undefined ? 'n/a' : ok ? 'PASS' : 'FAIL');
const dist = (d: Distribution | undefined) => (d ? `${ms(d.p50)} / ${ms(d.p99)} / ${ms(d.max)}` : '–');

export function buildRows(bench: BenchResults): Row[] {
  const { ceiling, ingest, drain, naive, freshness, feed, cost } = bench.results;
  const rows: Row[] = [];
  const info = (measure: string, value: string) => rows.push({ measure, value, target: '–', status: 'info' });
  const target = (measure: string, value: string, goal: string, ok: boolean | undefined) =>
    rows.push({ measure, value, target: goal, status: check(ok) });

  if (ceiling) {
    const m = ceiling.measured;
    info(`Ceiling: bare Express 5, ${ceiling.connections} connections`, `${num(m.reqPerS)} req/s, p50 ${ms(m.p50Ms)}, p99 ${ms(m.p99Ms)}`);
  }
  if (ingest) {
    const m = ingest.measured;
    info(
      `Ingest: POST /interactions, ${ingest.connections} connections`,
      `${num(m.reqPerS)} req/s, p50 ${ms(m.p50Ms)}, p99 ${ms(m.p99Ms)}`,
    );
    const r = ingest.vsCeiling;
    target('Ingest throughput / ceiling', r ? num(r.throughputRatio, 2) : '–', '≥ 0.7 (0.8 the aim)', r && r.throughputRatio >= 0.7);
    target('Ingest p99 / ceiling p99', r ? `${num(r.p99Ratio, 2)}×` : '–', '≤ 2×', r && r.p99Ratio <= 2);
    target('Ingest non-2xx answers, errors', `${num(m.non2xx)}, ${num(m.errors)}`, '0', m.non2xx === 0 && m.errors === 0);
  }
  if (drain) {
    const value = `${num(drain.ratePerS)}/s (${num(drain.rows)} of ${num(drain.expected)} rows in ${num(drain.seconds, 1)} s${drain.note ? `; ${drain.note}` : ''})`;
    target('Drain: service worker on the ingest backlog', value, '≥ 10,000/s, all rows', drain.completed && drain.ratePerS >= 10_000);
    info('Co-occurrence folded, after the last row', drain.foldLagS === undefined ? 'not within the cap' : `${num(drain.foldLagS, 1)} s`);
    if (drain.cpu) {
      const { micros } = drain.cpu;
      const { cores } = bench.machine;
      info(
        'Drain CPU per interaction, first row to co-occurrence folded',
        `${num(micros.machine)} µs of the machine: PostgreSQL ${num(micros.postgres)}, worker ${num(micros.worker)}, Redis ${num(micros.redis)} (10,000/s on ${cores} cores allows ${num((cores / 10_000) * 1e6)})`,
      );
    }
  }
  if (naive) {
    const value = `${num(naive.ratePerS)}/s (${num(naive.rows)} of ${num(naive.expected)} rows in ${num(naive.seconds, 1)} s${naive.note ? `; ${naive.note}` : ''})`;
    info(`Naive baseline: 1 job = 1 transaction, concurrency ${naive.concurrency}`, value);
  }
  if (drain && naive) {
    const ratio = drain.ratePerS / naive.ratePerS;
    target('Drain / naive rate', `${num(ratio, 2)}×`, '≥ 4×', ratio >= 4);
  }
  if (freshness) {
    const f = freshness;
    const steady = f.achievedRate >= 0.95 * f.targetRate;
    target(`Freshness: achieved rate (open loop, ${f.durationS} s)`, `${num(f.achievedRate)} req/s`, `${num(f.targetRate)} req/s`, steady);
    const visible = f.visibleMs
      ? `${dist(f.visibleMs)} (${num(f.sampled)} sampled${f.notVisible ? `, ${num(f.notVisible)} never visible` : ''})`
      : '–';
    target(
      'Freshness: 202 → row visible, p50 / p99 / max',
      visible,
      'p99 ≤ 250 ms at 1,000 req/s',
      f.visibleMs && steady && f.notVisible === 0 && f.visibleMs.p99 <= 250,
    );
    info('Freshness: 202 latency p50 / p99 (from scheduled send)', f.acceptMs ? `${ms(f.acceptMs.p50)} / ${ms(f.acceptMs.p99)}` : '–');
  }
  if (feed) {
    const r = feed.rebuild;
    info(
      `Model rebuild: ${num(feed.interactions)} interactions`,
      r.completed ? `${num(r.seconds, 1)} s` : `not finished in ${num(r.seconds)} s (${num(r.done ?? 0)}/${num(r.total ?? 0)} replayed)`,
    );
    const rows: [string, { measured: ClosedLoopResult; single: ClosedLoopResult } | undefined, boolean][] = [
      ['GET /recommendations, ranked on request (first of a session)', feed, true],
      ['GET /recommendations, ranked ahead (returning user)', feed.ahead, true],
      ['GET /recommendations within a filter, ranked on request', feed.filtered, false],
      ['GET /events/:id/similar', feed.similar, false],
    ];
    for (const [how, run, targeted] of rows) {
      if (!run) continue;
      const m = run.measured;
      info(`Feed: ${how}, ${feed.connections} connections`, `${num(m.reqPerS)} req/s, p50 ${ms(m.p50Ms)}, non-2xx ${num(m.non2xx)}`);
      if (targeted) target(`Feed p99, ${how}`, ms(m.p99Ms), '≤ 15 ms', r.completed && m.non2xx === 0 ? m.p99Ms <= 15 : false);
      else info(`Feed p99, ${how}`, ms(m.p99Ms));
      // Without queueing behind 15 others: what one feed costs to make.
      const s = run.single;
      info(
        `Feed, ${how}, one request at a time: p50 / p99`,
        `${ms(s.p50Ms)} / ${ms(s.p99Ms)} (${num(s.reqPerS)} req/s, non-2xx ${num(s.non2xx)})`,
      );
    }
  }
  if (cost) {
    if (cost.skipped) info('Cost growth', `skipped: ${cost.skipped}`);
    for (const c of cost.classes) {
      info(
        `Worker cost, user with ${num(c.priorInteractions)} prior interactions`,
        `${num(c.msPerInteraction, 2)} ms/interaction (${num(c.measure.rows)} rows)`,
      );
    }
    const complete = cost.classes.length > 0 && cost.classes.every((c) => c.measure.completed);
    target(
      'Cost growth, max / min ms per interaction',
      cost.ratioMaxMin ? `${num(cost.ratioMaxMin, 2)}×` : '–',
      '≤ 2× (flat)',
      complete ? cost.ratioMaxMin! <= 2 : undefined,
    );
  }
  const replay = bench.results.replay;
  if (replay?.skipped) info('Replay of a real log', `skipped: ${replay.skipped}`);
  else if (replay) {
    info(
      `Replay: ${num(replay.interactions)} interactions of ${num(replay.users)} users on ${num(replay.events)} events, through the API`,
      `${num(replay.accepted)} accepted in ${num(replay.sendS, 1)} s; stored after ${num(replay.storedS, 1)} s, folded after ${num(replay.drainS, 1)} s (${num(replay.drainPerS)}/s), the item model fitted after ${num(replay.fittedS, 1)} s`,
    );
    if (replay.quality) {
      const q = replay.quality;
      const acc = (a: typeof q.feed) => `${num(a.hitRate, 4)} / ${num(a.ndcg, 4)} (${num(a.users)} held out)`;
      info(
        `Replay: held-out last positives through the API, HR@10 / NDCG@10 (time squeezed ${num(replay.squeeze, 1)}× into ${num(replay.maxAgeDays)} days)`,
        `first page ${acc(q.feed)}; within the category ${acc(q.filtered)}; similar events ${acc(q.similar)}`,
      );
    }
    const names: [string, string][] = [
      ['afresh', 'first page ranked on request'],
      ['stored', 'first page from the stored ranking'],
      ['filtered', 'first page within a category, ranked on request'],
      ['similar', 'similar events'],
    ];
    for (const [key, label] of names) {
      for (const row of replay.shapes[key] ?? []) {
        const r = row.result;
        const c = row.cpuUsPerRequest;
        info(
          `Replay: ${label}, ${row.connections} connection${row.connections > 1 ? 's' : ''}`,
          `p50 ${ms(r.p50Ms)}, p99 ${ms(r.p99Ms)}, ${num(r.reqPerS)} req/s, non-2xx ${num(r.non2xx)}; CPU µs/page web ${num(c.web)}, worker ${num(c.worker)}, PostgreSQL ${num(c.postgres)}, Redis ${num(c.redis)}`,
        );
      }
    }
    const at4 = (key: string) => replay.shapes[key]?.find((row) => row.connections === 4)?.result;
    const afresh = at4('afresh');
    const stored = at4('stored');
    if (afresh) {
      target('Replay: ranked on request, 4 connections, p50', ms(afresh.p50Ms), '≤ 15 ms', afresh.non2xx === 0 && afresh.p50Ms <= 15);
      target('Replay: ranked on request, 4 connections, p99', ms(afresh.p99Ms), '≤ 50 ms', afresh.non2xx === 0 && afresh.p99Ms <= 50);
    }
    if (stored)
      target('Replay: stored ranking, 4 connections, p99', ms(stored.p99Ms), '≤ 10 ms', stored.non2xx === 0 && stored.p99Ms <= 10);
  }
  const peak = (name: string) => {
    const values = Object.values(bench.rssPeakMb).flatMap((byProcess) => (byProcess[name] === undefined ? [] : [byProcess[name]]));
    return values.length ? Math.max(...values) : undefined;
  };
  // Issue 17's measure: the web process against the bare one under the same load (the ingest phase
  // sends the ceiling's requests, on as many connections).
  const bare = bench.rssPeakMb.ceiling?.ceiling;
  const underIngest = bench.rssPeakMb.ingest?.web;
  if (bare !== undefined && underIngest !== undefined) {
    const ratio = underIngest / bare;
    target(
      "Web RSS peak under the ingest load / the ceiling's",
      `${num(underIngest)} / ${num(bare)} MB = ${num(ratio, 2)}×`,
      '≤ 1.3×',
      ratio <= 1.3,
    );
  }
  const underReplay = bench.rssPeakMb.replay?.web;
  if (bare !== undefined && underReplay !== undefined) {
    const ratio = underReplay / bare;
    target(
      "Web RSS peak under the replay's feed load / the ceiling's",
      `${num(underReplay)} / ${num(bare)} MB = ${num(ratio, 2)}×`,
      '≤ 1.3×',
      ratio <= 1.3,
    );
  }
  const web = peak('web');
  const worker = peak('worker');
  target('Web RSS peak (all phases)', web === undefined ? '–' : `${num(web)} MB`, '≤ 150 MB', web === undefined ? undefined : web <= 150);
  target(
    'Worker RSS peak (all phases)',
    worker === undefined ? '–' : `${num(worker)} MB`,
    '≤ 250 MB',
    worker === undefined ? undefined : worker <= 250,
  );
  return rows;
}

export function markdown(bench: BenchResults, rows: Row[]): string {
  const m = bench.machine;
  const lines = [
    `# Benchmark: ${bench.startedAt}`,
    '',
    `Scale ${bench.scale}, phases ${bench.phases.join(', ')}; ${num(bench.durationS ?? 0)} s. LOG_LEVEL=${bench.logLevel}${bench.nodeOptions ? `, NODE_OPTIONS=${bench.nodeOptions}` : ''}.`,
    `Machine: ${m.cpu}, ${m.cores} cores, ${num(m.memoryGb, 1)} GB; Node ${m.node}; ${m.postgres}; Redis ${m.redis}; load average at start ${m.loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')}.`,
    `Service: ${bench.service.commit.slice(0, 12)}${bench.service.uncommittedFiles ? ` + ${bench.service.uncommittedFiles} uncommitted files` : ''}.`,
    '',
    '| Measure | Value | Target | Status |',
    '| --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.measure} | ${r.value.replace(/\|/g, '\\|')} | ${r.target} | ${r.status} |`),
  ];
  const rss = Object.entries(bench.rssPeakMb);
  if (rss.length > 0) {
    lines.push('', '| Phase | Peak RSS (MB) |', '| --- | --- |');
    for (const [phase, byProcess] of rss) {
      lines.push(
        `| ${phase} | ${Object.entries(byProcess)
          .map(([name, mb]) => `${name} ${num(mb)}`)
          .join(', ')} |`,
      );
    }
  }
  const errors = Object.entries(bench.errors);
  if (errors.length > 0) {
    lines.push('', 'Errors:', ...errors.map(([phase, message]) => `- ${phase}: ${message.split('\n')[0]}`));
  }
  return `${lines.join('\n')}\n`;
}

interface Bar {
  label: string;
  value: number;
}

interface LatencyGroup {
  label: string;
  p50?: number;
  p99?: number;
}

/** Two hand-drawn bar charts: throughput per phase (linear), latency p50/p99 per phase (log scale). */
export function svg(bench: BenchResults): string {
  const { ceiling, ingest, drain, naive, freshness, feed } = bench.results;
  const bars: Bar[] = [];
  if (ceiling) bars.push({ label: 'ceiling req/s', value: ceiling.measured.reqPerS });
  if (ingest) bars.push({ label: 'ingest req/s', value: ingest.measured.reqPerS });
  if (drain) bars.push({ label: 'drain rows/s', value: drain.ratePerS });
  if (naive) bars.push({ label: 'naive rows/s', value: naive.ratePerS });
  if (freshness) bars.push({ label: 'fresh. req/s', value: freshness.achievedRate });
  if (feed) bars.push({ label: 'feed req/s', value: feed.measured.reqPerS });
  if (feed?.ahead) bars.push({ label: 'feed ahead req/s', value: feed.ahead.measured.reqPerS });
  const groups: LatencyGroup[] = [];
  if (ceiling) groups.push({ label: 'ceiling', p50: ceiling.measured.p50Ms, p99: ceiling.measured.p99Ms });
  if (ingest) groups.push({ label: 'ingest', p50: ingest.measured.p50Ms, p99: ingest.measured.p99Ms });
  if (freshness) groups.push({ label: 'fresh. 202', p50: freshness.acceptMs?.p50, p99: freshness.acceptMs?.p99 });
  if (freshness) groups.push({ label: 'fresh. visible', p50: freshness.visibleMs?.p50, p99: freshness.visibleMs?.p99 });
  if (feed) groups.push({ label: 'feed', p50: feed.measured.p50Ms, p99: feed.measured.p99Ms });
  if (feed?.ahead) groups.push({ label: 'feed ahead', p50: feed.ahead.measured.p50Ms, p99: feed.ahead.measured.p99Ms });

  const width = 900;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="700" viewBox="0 0 ${width} 700" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="700" fill="white"/>`,
    `<text x="20" y="24" font-size="16" font-weight="bold">${escape(`Benchmark ${bench.startedAt} (scale ${bench.scale})`)}</text>`,
    throughputChart(bars, { x: 70, y: 60, width: width - 100, height: 240 }),
    latencyChart(groups, { x: 70, y: 390, width: width - 100, height: 240 }),
    '</svg>',
  ];
  return `${parts.join('\n')}\n`;
}

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

function throughputChart(bars: Bar[], box: Box): string {
  const out = [`<text x="${box.x}" y="${box.y - 14}" font-size="14" font-weight="bold">Throughput (per second)</text>`];
  const max = niceCeiling(Math.max(1, ...bars.map((b) => b.value)));
  for (let i = 0; i <= 4; i++) {
    const y = box.y + box.height - (box.height * i) / 4;
    out.push(`<line x1="${box.x}" x2="${box.x + box.width}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${box.x - 6}" y="${y + 4}" text-anchor="end">${num((max * i) / 4)}</text>`);
  }
  const slot = box.width / Math.max(bars.length, 1);
  bars.forEach((bar, i) => {
    const h = (box.height * bar.value) / max;
    const x = box.x + i * slot + slot * 0.2;
    const y = box.y + box.height - h;
    out.push(`<rect x="${x}" y="${y}" width="${slot * 0.6}" height="${h}" fill="#4e79a7"/>`);
    out.push(`<text x="${x + slot * 0.3}" y="${y - 4}" text-anchor="middle">${num(bar.value)}</text>`);
    out.push(`<text x="${x + slot * 0.3}" y="${box.y + box.height + 16}" text-anchor="middle">${escape(bar.label)}</text>`);
  });
  return out.join('\n');
}

function latencyChart(groups: LatencyGroup[], box: Box): string {
  const out = [
    `<text x="${box.x}" y="${box.y - 14}" font-size="14" font-weight="bold">Latency, ms (log scale): p50 light blue, p99 orange</text>`,
  ];
  const values = groups.flatMap((g) => [g.p50, g.p99]).filter((v): v is number => v !== undefined);
  const decades = Math.max(1, Math.ceil(Math.log10(Math.max(10, ...values))));
  // 0.1 ms at the bottom, so that sub-millisecond values still get a visible bar.
  const scale = (v: number) => (box.height * (Math.log10(Math.max(v, 0.1)) + 1)) / (decades + 1);
  for (let d = -1; d <= decades; d++) {
    const y = box.y + box.height - scale(10 ** d);
    out.push(`<line x1="${box.x}" x2="${box.x + box.width}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${box.x - 6}" y="${y + 4}" text-anchor="end">${num(10 ** d, d < 0 ? 1 : 0)}</text>`);
  }
  const slot = box.width / Math.max(groups.length, 1);
  groups.forEach((group, i) => {
    const x0 = box.x + i * slot + slot * 0.15;
    const barWidth = slot * 0.35;
    [group.p50, group.p99].forEach((value, j) => {
      if (value === undefined) return;
      const h = scale(value);
      const x = x0 + j * barWidth;
      const y = box.y + box.height - h;
      out.push(`<rect x="${x}" y="${y}" width="${barWidth - 2}" height="${h}" fill="${j === 0 ? '#a0cbe8' : '#f28e2b'}"/>`);
      out.push(`<text x="${x + barWidth / 2}" y="${y - 4}" text-anchor="middle">${num(value, value < 10 ? 1 : 0)}</text>`);
    });
    out.push(`<text x="${x0 + barWidth}" y="${box.y + box.height + 16}" text-anchor="middle">${escape(group.label)}</text>`);
  });
  return out.join('\n');
}

/** 1, 2 or 5 times a power of ten, at or above `value`: round axis labels. */
function niceCeiling(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  return ([1, 2, 5, 10].find((m) => m * power >= value) ?? 10) * power;
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export async function writeReport(bench: BenchResults): Promise<string> {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const rows = buildRows(bench);
  const md = await pretty('latest.md', markdown(bench, rows));
  writeFileSync(path.join(RESULTS_DIR, 'latest.json'), await pretty('latest.json', JSON.stringify({ ...bench, checks: rows })));
  writeFileSync(path.join(RESULTS_DIR, 'latest.md'), md);
  writeFileSync(path.join(RESULTS_DIR, 'latest.svg'), svg(bench));
  return md;
}

/** Formatted as the repository's Prettier settings want it, so that results pass the format check. */
export async function pretty(name: string, text: string): Promise<string> {
  const filepath = path.join(RESULTS_DIR, name);
  return prettier.format(text, { ...(await prettier.resolveConfig(filepath)), filepath });
}
