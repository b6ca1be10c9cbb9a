import type { Db } from '../data/db';
import { EVENT_KINDS } from '../data/models';
import { latestPositivesFirst } from '../data/model-store';
import type { CandidateLimits, RankingSettings } from '../domain/fitted-settings';
import { featureKey } from '../domain/model';
import { DEFAULT_ITEM_MODEL_HALF_LIFE } from '../domain/item-model';
import type { Candidate, UserProfile } from './ranking';
import type { Versions } from './versions';
import { filterBindings, filterSql, isFiltered, NO_FILTER, type FeedFilter } from './filter';

/** A candidate as the query returns it: id, start (ms), features, popularity, co-occurrence and its support, title, item model score. */
type CandidateRow = [string, number, string | null, string[], string | null, string, string, number, number, number, string, number];

/**
 * Every candidate event of one user with all the ranking needs of it, and the versions of the user
 * and the model it was read under (see feed.ts), in one statement, so one snapshot: neighbours
 * of their latest positive events, the item model's best for them, events matching their strongest
 * features, popular and soonest events; each source indexed and bounded, so the cost does not
 * grow with a user's history or the number of events. Events the user interacted with (the feed is
 * for discovery, see ranking.ts) and events that have started are left out. Under a filter, every
 * source yields only events that pass it (filter.ts), so the feed is ranked within the filter
 * rather than cut out of the plain one, each walk still bounded. Rows come back as one JSON
 * document, which the API parses in a fraction of the CPU that a thousand typed rows take.
 */
const candidatesSql = (filtered: boolean) => `
with recent as (
  -- The user's latest positive events, k = 0 for the latest.
  select event_id, row_number() over (order by ${latestPositivesFirst()}) - 1 as k
    from (select event_id, positive_at, positive_seq from user_event_scores
           where user_id = :userId and positive_at is not null
           order by ${latestPositivesFirst()} limit :recentPositives) latest
), collaborative as (
  -- "People who engaged with your latest events also engaged with": co-occurrence normalised by
  -- both events' engaged users, the latest events counting most (see Candidate.collaborative);
  -- each recent event's strongest neighbours, fewer for older ones as they weigh less. A pair of
  -- events is one row of event_pairs, so an event's neighbours are read from either side of it.
  -- Support: the same sum unnormalised (Candidate.support).
  select n.other_event_id as event_id, sum(r.weight * n.value
             / (power(greatest(pr.engaged, 1), :similarityExponent::float8)
                * power(greatest(pc.engaged, 1), 1 - :similarityExponent::float8))) as value,
         sum(r.weight * n.value) as support
    from (select event_id, power(k + 1, -:recencyDecay::float8) as weight from recent) r
    join event_popularity pr on pr.event_id = r.event_id
    -- floor(x + 0.5), not round(): PostgreSQL rounds a float's halves to even, the evaluation (Math.round) up.
    cross join lateral (select greatest(1, floor(:neighboursPerEvent * r.weight + 0.5))::int as size) l
    cross join lateral (select other_event_id, value
                          from (${upcomingNeighbours('low', 'high', 'r.event_id', 'l.size', filtered)}
                                union all
                                ${upcomingNeighbours('high', 'low', 'r.event_id', 'l.size', filtered)}) both_ways
                         order by value desc, other_event_id limit l.size) n
    -- A lookup per neighbour ("offset 0"): joined, the planner hashed all of event_popularity once per recent event.
    cross join lateral (select engaged from event_popularity p where p.event_id = n.other_event_id offset 0) pc
   group by n.other_event_id order by value desc, n.other_event_id limit :collaborative
), item_model as (
  -- The item model's score (Candidate.itemModel): the fitted weights of each recent event's
  -- neighbours (as many as the fit keeps), the latest events counting most. A lookup per recent
  -- event: joined, the planner scanned the whole table. Under a filter, the best that pass it.
  select s.event_id, s.value
    from (select n.neighbour_id as event_id, sum(power(2, -r.k / :itemModelHalfLife::float8) * n.weight) as value
            from recent r
            cross join lateral (select neighbour_id, weight from item_neighbours n where n.event_id = r.event_id offset 0) n
           group by n.neighbour_id) s
   ${filtered ? `where exists (select from events e where e.id = s.event_id and e.starts_at > :now and ${filterSql('e')})` : ''}
   order by s.value desc, s.event_id limit :itemModel
), profile as (
  -- The events the user's feature affinities are summed over: their latest positive events and the
  -- latest they only dismissed, each bounded, so the read does not grow with their history.
  select event_id, feature_weight from (select event_id, feature_weight from user_event_scores
                                         where user_id = :userId and positive_at is not null
                                         order by ${latestPositivesFirst()} limit :profileEvents) positive
  union all
  select event_id, feature_weight from (select event_id, feature_weight from user_event_scores
                                         where user_id = :userId and positive_at is null and dismissed_at is not null
                                         order by dismissed_at desc, event_id limit :profileEvents) dismissed
), affinity as (
  -- Each feature's summed weight over those events, by the keys the events table keeps
  -- (feature_keys, spelled as featuresOf spells them; spelled again by featureKey below, so that the
  -- lookups agree whatever the locale's lower()).
  select k.key, sum(p.feature_weight) as value
    from profile p
    -- A lookup per profile event: joined, the planner hashed the whole events table.
    cross join lateral (select feature_keys from events e where e.id = p.event_id offset 0) e
    cross join unnest(e.feature_keys) k(key)
   group by k.key
), top_features as (
  select key, value from affinity where value > 0 order by value desc, key collate "C" limit :topFeatures
), wanted as (
  -- The strongest features but the kind: every event has one, so it says little of taste.
  select coalesce(array_agg(key) filter (where key not like 'kind:%'), '{}') as keys from top_features
), matching as (
  -- Walks the popularity index and stops at the limit, or after FEED_SCAN events (FILTER_SCAN under
  -- a filter; so a user whose interests few upcoming events match does not walk every event ever
  -- engaged with), and not at all for a user with no interests yet. The test is a subquery per row (and the wanted features
  -- sub-selects), not a join: a join lets the planner sort every matching event instead.
  select p.event_id as id
    from ${mostPopular(filtered ? ':filterScan' : ':feedScan')} p
   where cardinality((select keys from wanted)) > 0
     and (select e.starts_at > :now ${filtered ? `and ${filterSql('e')}` : ''} and e.feature_keys && (select keys from wanted)
            from events e where e.id = p.event_id)
   order by p.value desc, p.event_id limit :byFeature
), matching_fresh as (
  -- Events no one has engaged with yet (not in that index) fill what is left, soonest first, among
  -- the soonest upcoming events (bounded as above).
  select e.id
    from ${filtered ? soonestPassing(':filterScan') : '(select id, starts_at, feature_keys from events e where e.starts_at > :now order by e.starts_at limit :feedScan)'} e
   where cardinality((select keys from wanted)) > 0
     and not exists (select 1 from event_popularity p where p.event_id = e.id)
     and e.feature_keys && (select keys from wanted)
   order by e.starts_at limit greatest(:byFeature - (select count(*) from matching), 0)
), popular as (${
  filtered
    ? `
  -- Within the filter, from both ends, each walk bounded: the most popular events that pass it, and
  -- the most popular of the soonest events that pass it (how a rare filter finds any).
  (select p.event_id as id from ${mostPopular(':filterScan')} p
    where (select e.starts_at > :now and ${filterSql('e')} from events e where e.id = p.event_id)
    order by p.value desc, p.event_id limit :popular)
  union
  (select e.id from ${soonestPassing(':filterScan')} e
     -- A lookup per event ("offset 0"): joined, the planner hashed all of event_popularity.
     cross join lateral (select p.value from event_popularity p where p.event_id = e.id offset 0) p
    order by p.value desc, e.id limit :popular)`
    : `
  select e.id from ${mostPopular(':feedScan')} p
    join events e on e.id = p.event_id
   where e.starts_at > :now order by p.value desc, p.event_id limit :popular`
}
), soonest as (
  ${filtered ? `select id from ${soonestPassing(':soonest')} e` : 'select e.id from events e where e.starts_at > :now order by e.starts_at limit :soonest'}
), candidate as materialized (
  -- Each candidate once, with its co-occurrence value and item model score when it has them.
  select id, max(collaborative) as collaborative, max(support) as support, max(item_model) as item_model
    from (select event_id as id, value as collaborative, support, null::float8 as item_model from collaborative
          union all select event_id, null, null, value from item_model
          union all select id, null, null, null from matching
          union all select id, null, null, null from matching_fresh
          union all select id, null, null, null from popular
          union all select id, null, null, null from soonest) sources
   group by id
)
-- Lookups per candidate, a few hundred by primary key ("offset 0" keeps the planner from turning
-- them into joins: misjudging how many rows survive, it looped over, or hashed, every event).
select (select json_agg(json_build_array(e.id, floor(extract(epoch from e.starts_at) * 1000), e.category, e.tags, e.city,
                                         e.organizer_id, e.kind,
                                         coalesce((select p.value from event_popularity p where p.event_id = e.id), 0),
                                         coalesce(i.collaborative, 0), coalesce(i.support, 0), e.title,
                                         coalesce(i.item_model, 0)))
          from candidate i
          cross join lateral (select * from events e where e.id = i.id and e.starts_at > :now ${filtered ? `and ${filterSql('e')}` : ''} offset 0) e
         where not exists (select 1 from user_event_scores x where x.user_id = :userId and x.event_id = e.id)) as candidates,
       (select json_agg(json_build_array(key, value)) from affinity) as affinities,
       coalesce((select version from feed_versions where user_id = :userId), 0)::text as "userVersion",
       coalesce((select version from model_state where name = 'scores'), 0)::text as "modelVersion"`;

/**
 * One direction of an event's row in event_pairs: its `size` strongest neighbours that have not
 * started (and pass the filter, under one), found among `size` times NEIGHBOUR_SCAN_FACTOR of the
 * strongest, read off the index of that direction. Pairs are never pruned, so an event's strongest
 * neighbours are mostly events that have started once it is a few weeks old; the walk stays bounded
 * however many have, or however rare the filter.
 */
export function upcomingNeighbours(own: 'low' | 'high', other: 'low' | 'high', eventId: string, size: string, filtered = false): string {
  const value = `${own}_to_${other}`;
  return `(select n.other_event_id, n.value
             from (select ${other}_event_id as other_event_id, ${value} as value from event_pairs
                    where ${own}_event_id = ${eventId} and ${value} > 0
                    order by ${value} desc, ${other}_event_id limit ${size} * ${NEIGHBOUR_SCAN_FACTOR}) n
            -- A lookup per neighbour by key ("offset 0" keeps it one).
            cross join lateral (select from events e where e.id = n.other_event_id and e.starts_at > :now
                                 ${filtered ? `and ${filterSql('e')}` : ''} offset 0) e
            order by n.value desc, n.other_event_id limit ${size})`;
}

const KINDS = EVENT_KINDS.map((kind) => `'${kind}'`).join(', ');

/**
 * The `limit` soonest upcoming events that pass the filter (id, starts_at, feature_keys). Walked a
 * kind and a category at a time, each off an index whose prefix is the whole filter (migration
 * 20261208000000), so every row a walk reads passes: at most `limit` rows for each kind and
 * category, however many events pass part of the filter (down one field's index, testing the rest
 * row by row, a walk would read every event of a city to find the few of a rare category there).
 */
export function soonestPassing(limit: string): string {
  return `(select w.id, w.starts_at, w.feature_keys
             from unnest(case when :filterKind::text is null then array[${KINDS}] else array[:filterKind::text] end) k(kind)
            cross join unnest(coalesce(:filterCategories::text[], array[null::text])) c(category)
            cross join lateral (select e.id, e.starts_at, e.feature_keys from events e
                                 where e.kind = k.kind and e.starts_at > :now
                                   and (:filterCity::text is null or lower(e.city) = :filterCity)
                                   and (:filterCategories::text[] is null or lower(e.category) = c.category)
                                   and (:filterStartsAfter::timestamptz is null or e.starts_at > :filterStartsAfter)
                                   and (:filterStartsBefore::timestamptz is null or e.starts_at < :filterStartsBefore)
                                 order by e.starts_at limit ${limit}) w
            order by w.starts_at limit ${limit})`;
}

/**
 * The `limit` most popular events, walked off the popularity index (value desc, event_id): equal
 * values in id order, so which of two equally popular events makes a cut does not depend on the plan.
 */
export function mostPopular(limit: string): string {
  return `(select event_id, value from event_popularity order by value desc, event_id limit ${limit})`;
}

/** How many more of each event's strongest neighbours are read than are kept: those that started, or fail a filter, are passed over. */
export const NEIGHBOUR_SCAN_FACTOR = 5;
/** Under a filter, how many of the most popular and of the soonest events are looked through. */
export const FILTER_SCAN = 500;
/**
 * How many of the most popular and of the soonest events the plain feed looks through: events
 * that started stay in the popularity index, and few upcoming events may match a user's interests.
 */
export const FEED_SCAN = 2_000;

const CANDIDATES_SQL = candidatesSql(false);
const FILTERED_CANDIDATES_SQL = candidatesSql(true);

/** Everything the ranking needs for one user: the candidates, and the user's feature affinities. */
export async function loadFeedCandidates(
  db: Db,
  userId: string,
  now: Date,
  settings: { ranking: RankingSettings; candidates: CandidateLimits },
  options: { filter?: FeedFilter; prepared?: boolean } = {},
): Promise<{ profile: UserProfile; candidates: Candidate[]; events: FeedEvent[]; versions: Versions }> {
  const filter = options.filter ?? NO_FILTER;
  const filtered = isFiltered(filter);
  const { recencyDecay, similarityExponent, recentPositives } = settings.ranking;
  const [found] = await rows<{
    candidates: CandidateRow[] | null;
    affinities: [string, number][] | null;
    userVersion: string;
    modelVersion: string;
  }>(
    db,
    filtered ? FILTERED_CANDIDATES_SQL : CANDIDATES_SQL,
    {
      userId,
      now,
      ...filterBindings(filter),
      filterScan: FILTER_SCAN,
      feedScan: FEED_SCAN,
      recencyDecay,
      similarityExponent,
      recentPositives,
      ...settings.candidates,
      itemModelHalfLife: settings.ranking.itemModelHalfLife ?? DEFAULT_ITEM_MODEL_HALF_LIFE,
      itemModel: settings.ranking.weights.itemModel ? (settings.candidates.itemModel ?? 0) : 0,
    },
    options.prepared && !filtered ? PREPARED_NAME : undefined,
  );
  const returned = found!.candidates ?? [];
  const candidates = returned.map(
    ([eventId, startsAt, category, tags, city, organizerId, kind, popularity, collaborative, support, , itemModel]): Candidate => ({
      eventId,
      features: { category, tags, city, organizerId, kind },
      collaborative,
      support,
      popularity,
      itemModel,
      startsAt: new Date(startsAt),
    }),
  );
  // What a page shows of them comes with them: the first page needs no other statement.
  const events = returned.map(([id, startsAt, category, tags, city, , kind, , , , title]): FeedEvent => ({
    id,
    title,
    startsAt: new Date(startsAt),
    kind,
    category,
    tags,
    city,
  }));
  const affinities = new Map<string, number>();
  for (const [stored, value] of found!.affinities ?? []) {
    const at = stored.indexOf(':');
    const key = featureKey(stored.slice(0, at), stored.slice(at + 1));
    affinities.set(key, (affinities.get(key) ?? 0) + value);
  }
  return { profile: { affinities }, candidates, events, versions: { user: found!.userVersion, model: found!.modelVersion } };
}

export interface FeedEvent {
  id: string;
  title: string;
  startsAt: Date;
  kind: string;
  category: string | null;
  tags: string[];
  city: string | null;
}

/**
 * The facts a feed page shows of its events, for the events that have not started; each event's
 * kept `ttlMs` (EVENT_CACHE_TTL_MS), so that most pages are served without asking the database. An
 * event edited or removed shows so for at most that long; one not found is asked for again each time.
 */
export function cachedFeedEvents(db: Db, ttlMs: number, maxEntries = 100_000): FeedEvents {
  const cache = new Map<string, { event: FeedEvent; expires: number }>(); // oldest first
  const keep = (event: FeedEvent, at: number) => {
    cache.delete(event.id);
    if (ttlMs === 0) return;
    cache.set(event.id, { event, expires: at + ttlMs });
    if (cache.size > maxEntries) cache.delete(cache.keys().next().value!);
  };
  const lookup = async (ids: string[], now: Date) => {
    const found = new Map<string, FeedEvent>();
    const missing: string[] = [];
    const at = Date.now();
    for (const id of ids) {
      const hit = cache.get(id);
      if (hit && hit.expires > at) found.set(id, hit.event);
      else missing.push(id);
    }
    if (missing.length > 0) {
      const loaded = await rows<FeedEvent>(
        db,
        'select id, title, starts_at as "startsAt", kind, category, tags, city from events where id = any(?::uuid[])',
        [missing],
      );
      for (const event of loaded) {
        found.set(event.id, event);
        keep(event, at);
      }
    }
    for (const [id, event] of found) if (event.startsAt <= now) found.delete(id);
    return found;
  };
  return Object.assign(lookup, {
    remember(events: FeedEvent[]) {
      const at = Date.now();
      for (const event of events) keep(event, at);
    },
  });
}

/** The facts of events a page shows, and a way to hand it facts already read (a ranking's candidates). */
export type FeedEvents = ((ids: string[], now: Date) => Promise<Map<string, FeedEvent>>) & { remember?(events: FeedEvent[]): void };

/** Those of `ids` the user dismissed or applied to, as stored by the worker. */
export async function loadSettledEvents(db: Db, userId: string, ids: string[]): Promise<Set<string>> {
  const found = await rows<{ event_id: string }>(
    db,
    `select event_id from user_event_scores where user_id = ? and event_id = any(?::uuid[])
        and (dismissed_at is not null or applied_at is not null)`,
    [userId, ids],
  );
  return new Set(found.map((r) => r.event_id));
}

/** Those of `ids` the user interacted with at all, as stored by the worker. */
export async function loadTouchedEvents(db: Db, userId: string, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const found = await rows<{ event_id: string }>(
    db,
    'select event_id from user_event_scores where user_id = ? and event_id = any(?::uuid[])',
    [userId, ids],
  );
  return new Set(found.map((r) => r.event_id));
}

/**
 * The plain feed's statement prepared once per connection: planning a statement this size is a
 * sizeable share of a first page's time in PostgreSQL. Its plan is then PostgreSQL's to cache (a generic one once it costs no more than the
 * custom ones); the filtered statement, whose conditions fold away only when planned with their
 * values, is planned every time.
 */
const PREPARED_NAME = 'feed_candidates';

async function rows<T>(db: Db, sql: string, bindings: unknown[] | Record<string, unknown>, name?: string): Promise<T[]> {
  const query = db.raw<{ rows: T[] }>(sql, bindings as never);
  const result = await (name ? query.options({ name }) : query);
  return result.rows;
}
