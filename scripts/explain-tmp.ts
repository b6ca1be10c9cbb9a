import knex from 'knex';
import { loadFeedCandidates } from '../src/feed/candidates';
import { RECOMMENDATION_SETTINGS as S } from '../src/domain/fitted-settings';
const db = knex({ client: 'pg', connection: 'postgres://postgres@127.0.0.1:5432/replaycopy' });
async function main() {
  const user = process.argv[2]!;
  const filter = process.argv[3] ? JSON.parse(process.argv[3]) : undefined;
  let text = '';
  const fake = { raw: (sql: string, b: unknown) => { text = db.raw(sql, b as never).toQuery(); throw new Error('captured'); } };
  await loadFeedCandidates(fake as never, user, new Date(), { ranking: S.ranking, candidates: S.candidates }, filter).catch(() => undefined);
  for (let i = 0; i < 3; i++) await db.raw(text);
  const t = Date.now(); for (let i = 0; i < 10; i++) await db.raw(text); console.log('mean ms', (Date.now() - t) / 10);
  const { rows } = await db.raw(`explain (analyze, buffers, timing) ${text}`);
  console.log(rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n'));
  await db.destroy();
}
void main();
