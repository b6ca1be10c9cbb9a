import pg from 'pg';
import knex from 'knex';
import { loadFeedCandidates } from '../src/feed/candidates';
import { RECOMMENDATION_SETTINGS as S } from '../src/domain/fitted-settings';
async function main() {
  const k = knex({ client: 'pg' });
  let sql = ''; let bindings: unknown[] = [];
  const fake = { raw: (s: string, b: unknown) => { const n = k.raw(s, b as never).toSQL().toNative(); sql = n.sql; bindings = [...n.bindings]; throw new Error('x'); } };
  await loadFeedCandidates(fake as never, '547', new Date(), { ranking: S.ranking, candidates: S.candidates }).catch(() => undefined);
  const c = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/replaycopy' }); await c.connect();
  const users = (await c.query('select distinct user_id from user_event_scores limit 200')).rows.map((r) => r.user_id);
  const userIdx = bindings.findIndex((b) => b === '547');
  const run = async (named: boolean) => { const t = process.hrtime.bigint(); for (const u of users) { const b = [...bindings]; b[userIdx] = u; await c.query(named ? { name: 'cand', text: sql, values: b } : { text: sql, values: b }); } return Number(process.hrtime.bigint() - t) / 1e6 / users.length; };
  for (let i = 0; i < 3; i++) console.log('unnamed', (await run(false)).toFixed(2), 'named', (await run(true)).toFixed(2));
  await c.end();
}
void main();
