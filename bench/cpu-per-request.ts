// `npm run bench:cpu`: the CPU time one process spends per request, the service's API against the
// bare-Express ceiling, at one fixed open-loop rate. Closed-loop throughput on two shared cores
// also measures the load generator, Redis and PostgreSQL competing for them; this is the process's
// own cost, which is what a change to the request path moves.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { runMain } from './cleanup';
import { openLoop, type LoadRequest } from './load';
import { machine, serviceVersion } from './machine';
import { snapshotBuild, sparePort, startNode, waitReady, type Child } from './processes';
import { pretty, RESULTS_DIR } from './report';
import { cpuSeconds, RssSampler } from './rss';
import { parseArgs } from './settings';
import { Stack } from './stack';
import { interactionRequest, userId, Workload } from './workload';

const EVENTS = 2000;
const FEED_USERS = 2000;

interface Row {
  what: string;
  requests: number;
  non2xx: number;
  cpuUsPerRequest: number;
}

runMain(async () => {
  const argv = process.argv.slice(2);
  const flag = (name: string, fallback: number) => {
    const at = argv.indexOf(name);
    const value = at >= 0 ? Number(argv[at + 1]) : fallback;
    if (!(value > 0)) throw new Error(`${name} takes a positive number`);
    return value;
  };
  const rate = flag('--rate', 2000);
  const seconds = flag('--seconds', 10);
  // --only post,feed: some of the rows (for a profile of one path); the ceiling row is always measured.
  const onlyAt = argv.indexOf('--only');
  const only = new Set(onlyAt >= 0 ? argv[onlyAt + 1]!.split(',') : ['post', 'feed']);

  await snapshotBuild();
  const ctx = { settings: parseArgs([]), rss: new RssSampler(), log: (line: string) => console.log(line) };
  const stack = await Stack.create(ctx, 'cpu', EVENTS);
  await stack.startWeb(); // no worker: accepted interactions stay queued
  const workload = new Workload(stack.eventIds, 5000, 42, true);
  const post = (): LoadRequest => ({ method: 'POST', path: '/interactions', ...interactionRequest(workload, workload.next()) });
  let nextUser = 0;
  const firstPage = (): LoadRequest => {
    const user = userId(nextUser++ % FEED_USERS);
    return { method: 'GET', path: '/recommendations?limit=20', headers: { authorization: `Bearer ${workload.token(user)}` } };
  };

  /** CPU seconds `child` used answering `seconds` of requests at `rate`, after 3 s of warm-up. */
  const measure = async (what: string, base: URL, child: Child, next: () => LoadRequest): Promise<Row> => {
    await openLoop({ base, rate, warmupS: 3, durationS: 0.001, next, onAnswer: () => undefined });
    const before = cpuSeconds(child.pid);
    const result = await openLoop({ base, rate, warmupS: 0, durationS: seconds, next, onAnswer: () => undefined });
    const used = cpuSeconds(child.pid) - before;
    const ok = Object.entries(result.statusCounts).reduce((sum, [status, n]) => (status.startsWith('2') ? sum + n : sum), 0);
    const row = { what, requests: result.sent, non2xx: result.sent - ok, cpuUsPerRequest: (used * 1e6) / result.sent };
    ctx.log(`  ${what}: ${row.cpuUsPerRequest.toFixed(0)} µs of CPU per request (${row.requests} requests, ${row.non2xx} not 2xx)`);
    return row;
  };

  const rows: Row[] = [];
  const port = await sparePort();
  const ceiling = startNode('ceiling', ['--require', 'tsx/cjs', 'bench/ceiling.ts'], { NODE_ENV: 'production', PORT: String(port) });
  const ceilingUrl = new URL(`http://127.0.0.1:${port}`);
  await waitReady(`${ceilingUrl.origin}/readyz`, ceiling);
  rows.push(await measure('Bare Express 5 ceiling, POST', ceilingUrl, ceiling, post));
  await ceiling.stop();

  if (only.has('post')) rows.push(await measure('POST /interactions', stack.baseUrl, stack.web!, post));
  if (only.has('feed')) {
    // Each feed user asks once, untimed, at a rate the ranking on request keeps up with: their next
    // first pages come from that ranking.
    await openLoop({ base: stack.baseUrl, rate: 200, warmupS: 0, durationS: FEED_USERS / 200, next: firstPage, onAnswer: () => undefined });
    rows.push(await measure('GET /recommendations, first page ranked ahead', stack.baseUrl, stack.web!, firstPage));
  }
  ctx.rss.stop();

  const { commit, uncommittedFiles } = serviceVersion();
  const m = await machine();
  const markdown = [
    `# CPU per request: ${new Date().toISOString()}`,
    '',
    `Open loop at ${rate.toLocaleString('en-US')} req/s, 3 s warm-up, ${seconds} s measured; CPU (user + system) of the answering process only.`,
    `Machine: ${m.cpu}, ${m.cores} cores; Node ${m.node}. Service: ${commit.slice(0, 12)}${uncommittedFiles ? ` + ${uncommittedFiles} uncommitted files` : ''}.`,
    '',
    '| Requests | CPU per request | Against the ceiling | Not 2xx |',
    '| --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.what} | ${r.cpuUsPerRequest.toFixed(0)} µs | ${(r.cpuUsPerRequest / rows[0]!.cpuUsPerRequest).toFixed(2)}× | ${r.non2xx} |`,
    ),
    '',
  ].join('\n');
  writeFileSync(path.join(RESULTS_DIR, 'cpu-per-request.md'), await pretty('cpu-per-request.md', markdown));
  console.log(`\n${markdown}`);
  await stack.destroy();
});
