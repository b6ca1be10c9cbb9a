import { closedLoop } from '../bench/load';
import { commandCpuSeconds, cpuSeconds } from '../bench/rss';
import { signToken } from '../bench/workload';
import { cycle } from '../bench/phases/throughput';
import pg from 'pg';
async function main() {
  const [port, pid, conns, kind] = process.argv.slice(2);
  const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:5432/replaycopy' });
  const users = (await pool.query('select distinct user_id from user_event_scores')).rows.map((r) => r.user_id as string);
  const cats = (await pool.query('select distinct category from events where category is not null')).rows.map((r) => r.category as string);
  const evs = (await pool.query('select id from events limit 3000')).rows.map((r) => r.id as string);
  await pool.end();
  let i = 0;
  const reqs = users.map((u) => {
    i++;
    const path = kind === 'filtered' ? `/recommendations?limit=20&category=${encodeURIComponent(cats[i % cats.length]!)}` : kind === 'similar' ? `/events/${evs[i % evs.length]}/similar` : '/recommendations?limit=20';
    return { method: 'GET' as const, path, headers: { authorization: `Bearer ${signToken(u)}` } };
  });
  const url = `http://127.0.0.1:${port}`;
  const next = cycle(reqs);
  await closedLoop({ url, connections: Number(conns), durationS: 2, next });
  const w0 = cpuSeconds(Number(pid)), p0 = commandCpuSeconds('postgres');
  const r = await closedLoop({ url, connections: Number(conns), durationS: 8, next });
  const w = cpuSeconds(Number(pid)) - w0, p = commandCpuSeconds('postgres') - p0;
  console.log(`${kind} c=${conns}: p50 ${r.p50Ms} p99 ${r.p99Ms} ${r.reqPerS.toFixed(0)} req/s non2xx ${r.non2xx}; web µs ${(w * 1e6 / r.requests).toFixed(0)} pg µs ${(p * 1e6 / r.requests).toFixed(0)}`);
}
void main();
