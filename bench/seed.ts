// Data loaded straight into PostgreSQL: events, and historical interactions far faster than the
// API could take them. The distributions mirror workload.ts (zipf events, skewed users, mostly views).
import type { Pool, PoolClient } from 'pg';
import { build, runNodeScript } from './processes';

export const CATEGORIES = ['jazz', 'rock', 'techno', 'classical', 'hiphop', 'folk', 'theatre', 'comedy', 'film', 'art', 'food', 'sports'];
// prettier-ignore
const TAGS = [
  'live', 'outdoor', 'indoor', 'free', 'family', 'late-night', 'festival', 'workshop', 'acoustic', 'dj',
  'open-air', 'premiere', 'charity', 'students', 'vinyl', 'improv', 'orchestra', 'street-food', 'wine', 'craft-beer',
  'local', 'international', 'weekend', 'afterwork', 'beginners', 'pro', 'networking', 'seated', 'standing', 'all-ages',
];
export const CITIES = ['Berlin', 'Munich', 'Hamburg', 'Cologne', 'Frankfurt', 'Leipzig', 'Stuttgart', 'Dresden', 'Vienna', 'Zurich'];
const ORGANIZERS = 300;

const sqlArray = (values: string[]) => `array[${values.map((v) => `'${v}'`).join(',')}]`;

/** Upcoming events (next 60 days) with features drawn from small vocabularies; returns their ids in a stable order. */
export async function seedEvents(pool: Pool, count: number): Promise<string[]> {
  await pool.query(
    `insert into events (title, starts_at, kind, category, tags, city, ticket_url, organizer_id)
     select 'Bench event ' || g,
            now() + interval '1 hour' + r.days * interval '1 day',
            case when r.gig < 0.2 then 'gig' else 'event' end,
            (${sqlArray(CATEGORIES)})[1 + floor(r.c * ${CATEGORIES.length})::int],
            case when r.t1 = r.t2 then array[(${sqlArray(TAGS)})[r.t1]]
                 else array[(${sqlArray(TAGS)})[r.t1], (${sqlArray(TAGS)})[r.t2]] end,
            (${sqlArray(CITIES)})[1 + floor(r.city * ${CITIES.length})::int],
            'https://tickets.example/' || g,
            'organizer-' || floor(r.org * ${ORGANIZERS})::int
       from generate_series(1, $1::int) g
       -- A lateral subquery that mentions g is evaluated once per row, so every row gets its own draws.
       cross join lateral (
         select g as row, random() * 59 as days, random() as gig, random() as c, random() as city, random() as org,
                1 + floor(random() * ${TAGS.length})::int as t1, 1 + floor(random() * ${TAGS.length})::int as t2
       ) r`,
    [count],
  );
  const { rows } = await pool.query<{ id: string }>('select id from events order by id');
  return rows.map((row) => row.id);
}

/**
 * Historical interactions by SQL, in chunks: `users` users ('bench-user-<i>', skewed) or one fixed
 * user, zipf-chosen events, created over the past 60 days. Ids are random UUIDs (unique).
 */
export async function seedInteractions(pool: Pool, options: { count: number; users?: number; userId?: string }): Promise<void> {
  // A temporary table lives on one connection: the whole seed runs on one client.
  const client = await pool.connect();
  try {
    await insertChunks(client, options);
  } finally {
    client.release();
  }
  await pool.query('analyze');
}

async function insertChunks(client: PoolClient, options: { count: number; users?: number; userId?: string }): Promise<void> {
  const eventCount = Number((await client.query<{ n: string }>('select count(*) as n from events')).rows[0]!.n);
  await client.query('create temporary table if not exists bench_event_order (i int primary key, id uuid not null)');
  await client.query('truncate bench_event_order');
  await client.query('insert into bench_event_order select (row_number() over (order by id) - 1)::int, id from events');
  const user = options.userId ? `$2::text` : `'bench-user-' || least(floor($2::int * power(random(), 2))::int, $2::int - 1)`;
  const chunk = 250_000;
  for (let done = 0; done < options.count; done += chunk) {
    const n = Math.min(chunk, options.count - done);
    await client.query(
      `insert into interactions (id, user_id, event_id, action, source, created_at, occurred_at, persisted_at)
       select gen_random_uuid(), s.user_id, e.id,
              case when s.a < 0.70 then 'VIEW' when s.a < 0.85 then 'CLICK' when s.a < 0.93 then 'SAVE'
                   when s.a < 0.95 then 'APPLY' else 'DISMISS' end,
              'api', s.at, s.at, s.at + interval '5 milliseconds'
         from (select ${user} as user_id,
                      least(floor(exp(random() * ln($3::int + 1)))::int - 1, $3::int - 1) as event_index,
                      random() as a,
                      now() - random() * interval '60 days' as at
                 from generate_series(1, $1::int)) s
         join bench_event_order e on e.i = s.event_index`,
      [n, options.userId ?? options.users, eventCount],
    );
  }
}

export interface RebuildResult {
  seconds: number;
  completed: boolean;
  timedOut: boolean;
  /** Interactions replayed, from the script's own progress line (the last one seen when stopped). */
  done?: number;
  total?: number;
  message: string;
}

/** Builds the model with the service's own script, stopped after `capS` seconds. */
export async function rebuildModel(env: Record<string, string>, capS: number): Promise<RebuildResult> {
  const result = await runNodeScript('rebuild-scores', [build('scripts/rebuild-scores.js')], env, capS * 1000);
  const progress = [...result.output.matchAll(/(\d+)\/(\d+)/g)].at(-1);
  const completed = result.code === 0 && !result.timedOut;
  return {
    seconds: result.seconds,
    completed,
    timedOut: result.timedOut,
    done: progress ? Number(progress[1]) : undefined,
    total: progress ? Number(progress[2]) : undefined,
    message: completed ? (result.output.match(/Rebuilt.*$/m)?.[0] ?? 'done') : result.output.slice(-500),
  };
}
