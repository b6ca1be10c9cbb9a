import type { Db } from './db';
import type { ImpressionPayload } from '../jobs/definitions';
import { ACTIONS, type Action } from '../domain/weights';

/** Stores feed pages served; one already stored (a job delivered twice) is skipped. */
export async function insertImpressions(db: Db, impressions: ImpressionPayload[]): Promise<number> {
  if (impressions.length === 0) return 0;
  const { rowCount } = await db.raw<{ rowCount: number }>(
    `insert into feed_impressions (id, served_at, user_id, ranking_id, variant, settings_version, event_ids, positions, first_position)
     select i.id, i.served_at, i.user_id, i.ranking_id, i.variant, i.settings_version,
            array(select jsonb_array_elements_text(i.event_ids)::uuid),
            array(select jsonb_array_elements_text(i.positions)::int),
            coalesce((i.positions->>0)::int, 0)
       from jsonb_to_recordset(?::jsonb) as i(id uuid, served_at timestamptz, user_id text, ranking_id text, variant text,
                                             settings_version int, event_ids jsonb, positions jsonb)
     on conflict (id) do nothing`,
    [
      JSON.stringify(
        impressions.map((i) => ({
          id: i.id,
          served_at: i.servedAt,
          user_id: i.userId,
          ranking_id: i.rankingId,
          variant: i.variant,
          settings_version: i.settingsVersion,
          event_ids: i.eventIds,
          positions: i.positions,
        })),
      ),
    ],
  );
  return rowCount;
}

/** Deletes the pages served more than `retentionDays` ago, a bounded number per statement. */
export async function pruneImpressions(db: Db, retentionDays: number): Promise<number> {
  let deleted = 0;
  for (;;) {
    const { rowCount } = await db.raw<{ rowCount: number }>(
      `delete from feed_impressions where id in (
         select id from feed_impressions where served_at < now() - make_interval(days => ?) limit 10000)`,
      [retentionDays],
    );
    deleted += rowCount;
    if (rowCount < 10_000) return deleted;
  }
}

export type Engaged = Record<Action, number>;

export interface FeedDayStats {
  /** UTC day, YYYY-MM-DD. */
  date: string;
  variant: string;
  /** Distinct (ranking, event) pairs served that day. */
  impressions: number;
  /** Interactions attributed to those impressions, by action. */
  engaged: Engaged;
  /** Distinct events shown, and their share of the events upcoming that day (created by its end, starting after its start). */
  events: number;
  coverage: number;
  /** The same for positions 1 to 20 of the rankings. */
  byPosition: { position: number; impressions: number; engaged: Engaged }[];
}

/** A `YYYY-MM-DD` parameter as the start of that day in UTC, whatever the session's time zone. */
const UTC_DAY = `((?::date)::timestamp at time zone 'UTC')`;

/** Positions reported one by one (a feed's first pages). */
const POSITIONS = 20;

const noEngagement = (): Engaged => Object.fromEntries(ACTIONS.map((a) => [a, 0])) as Engaged;

/**
 * Per UTC day in [from, to] and variant: impressions and the interactions attributed to them by
 * the database's feed_attributions (migrations/20261206000000): the latest page served to the user
 * that showed the event (of the ranking the interaction names, if it names one), served before the
 * interaction was accepted and within `attributionHours` before the user acted. Read from the rows
 * when asked, so an impression stored after the interaction it led to (the two jobs raced) still
 * counts, and nothing is written on the interactions' path.
 */
export async function feedStats(db: Db, from: string, to: string, attributionHours: number): Promise<FeedDayStats[]> {
  const range = [from, to];
  const { rows: shown } = await db.raw<{ rows: { day: string; variant: string; position: number; impressions: string }[] }>(
    `with seen as (
       select to_char(f.served_at at time zone 'UTC', 'YYYY-MM-DD') as day, f.variant, f.ranking_id, s.event_id, min(s.position) as position
         from feed_impressions f cross join lateral unnest(f.event_ids, f.positions) as s(event_id, position)
        where f.served_at >= ${UTC_DAY} and f.served_at < ${UTC_DAY} + interval '1 day'
        group by 1, 2, 3, 4)
     select day, variant, least(position, ${POSITIONS + 1}) as position, count(*) as impressions from seen group by 1, 2, 3`,
    range,
  );
  const { rows: engaged } = await db.raw<{ rows: { day: string; variant: string; position: number; action: Action; n: string }[] }>(
    `select to_char(a.served_at at time zone 'UTC', 'YYYY-MM-DD') as day, a.variant, least(a.position, ${POSITIONS + 1}) as position,
            a.action, count(*) as n
       from feed_attributions(${UTC_DAY}, ${UTC_DAY} + interval '1 day', ?) a
      group by 1, 2, 3, 4`,
    [...range, attributionHours],
  );
  const { rows: covered } = await db.raw<{ rows: { day: string; variant: string; events: string; upcoming: string }[] }>(
    `with shown as (
       select to_char(f.served_at at time zone 'UTC', 'YYYY-MM-DD') as day, f.variant, count(distinct e) as events
         from feed_impressions f cross join lateral unnest(f.event_ids) as e
        where f.served_at >= ${UTC_DAY} and f.served_at < ${UTC_DAY} + interval '1 day'
        group by 1, 2)
     select s.day, s.variant, s.events,
            (select count(*) from events ev
              where ev.starts_at >= (s.day::date)::timestamp at time zone 'UTC'
                and ev.created_at < (s.day::date + 1)::timestamp at time zone 'UTC') as upcoming
       from shown s`,
    range,
  );

  const days = new Map<string, FeedDayStats>();
  const dayOf = (day: string, variant: string) => {
    const key = `${day}\n${variant}`;
    let stats = days.get(key);
    if (!stats) {
      stats = {
        date: day,
        variant,
        impressions: 0,
        engaged: noEngagement(),
        events: 0,
        coverage: 0,
        byPosition: Array.from({ length: POSITIONS }, (_, i) => ({ position: i + 1, impressions: 0, engaged: noEngagement() })),
      };
      days.set(key, stats);
    }
    return stats;
  };
  for (const row of shown) {
    const stats = dayOf(row.day, row.variant);
    stats.impressions += Number(row.impressions);
    if (row.position <= POSITIONS) stats.byPosition[row.position - 1]!.impressions += Number(row.impressions);
  }
  for (const row of covered) {
    const stats = dayOf(row.day, row.variant);
    stats.events = Number(row.events);
    stats.coverage = Number(row.upcoming) > 0 ? Number(row.events) / Number(row.upcoming) : 0;
  }
  for (const row of engaged) {
    const stats = dayOf(row.day, row.variant);
    stats.engaged[row.action] += Number(row.n);
    if (row.position <= POSITIONS) stats.byPosition[row.position - 1]!.engaged[row.action] += Number(row.n);
  }
  return [...days.values()].sort((a, b) => a.date.localeCompare(b.date) || a.variant.localeCompare(b.variant));
}
