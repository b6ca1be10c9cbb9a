import { createHash } from 'node:crypto';
import { spell } from '../domain/model';

/**
 * What a feed may be restricted to (`GET /recommendations?kind=&city=&category=&startsAfter=&startsBefore=`),
 * the conditions combined with AND. Cities and categories are compared as `spell` spells them
 * (trimmed, lower case as PostgreSQL's lower() writes it).
 */
export interface FeedFilter {
  kind?: 'event' | 'gig';
  city?: string;
  /** Any of them. */
  categories?: string[];
  /** Events starting strictly after this instant. */
  startsAfter?: Date;
  /** Events starting strictly before this instant. */
  startsBefore?: Date;
}

export const NO_FILTER: FeedFilter = Object.freeze({});

/** The filter with each value in one spelling, and undefined where it asks nothing. */
export function normaliseFilter(filter: FeedFilter): FeedFilter {
  const categories = filter.categories?.length ? [...new Set(filter.categories.map(spell))].sort() : undefined;
  return {
    ...(filter.kind && { kind: filter.kind }),
    ...(filter.city !== undefined && { city: spell(filter.city) }),
    ...(categories && { categories }),
    ...(filter.startsAfter && { startsAfter: filter.startsAfter }),
    ...(filter.startsBefore && { startsBefore: filter.startsBefore }),
  };
}

export const isFiltered = (filter: FeedFilter) => Object.keys(normaliseFilter(filter)).length > 0;

/**
 * The name of the filter's own frozen ranking: '' for the plain feed, else a short hash of the
 * normalised filter, so that `category=Jazz&category=rock` and `category=ROCK&category=jazz` share one.
 */
export function filterScope(filter: FeedFilter): string {
  const normal = normaliseFilter(filter);
  if (Object.keys(normal).length === 0) return '';
  const text = JSON.stringify([
    normal.kind ?? null,
    normal.city ?? null,
    normal.categories ?? null,
    normal.startsAfter?.getTime() ?? null,
    normal.startsBefore?.getTime() ?? null,
  ]);
  return createHash('sha256').update(text).digest('base64url').slice(0, 16);
}

/** Whether an event passes the filter, as the SQL's `filterSql` says (the offline evaluation filters with it). */
export function filterPredicate(
  filter: FeedFilter,
): (event: { kind?: string | null; city?: string | null; category?: string | null; startsAt?: Date }) => boolean {
  const normal = normaliseFilter(filter);
  return (event) => {
    if (normal.kind && event.kind !== normal.kind) return false;
    if (normal.city !== undefined && spell(event.city) !== normal.city) return false;
    if (normal.categories && !normal.categories.includes(spell(event.category))) return false;
    if (normal.startsAfter && !(event.startsAt && event.startsAt > normal.startsAfter)) return false;
    if (normal.startsBefore && !(event.startsAt && event.startsAt < normal.startsBefore)) return false;
    return true;
  };
}

/** The filter as bindings of `filterSql`: null where it asks nothing. */
export function filterBindings(filter: FeedFilter): Record<string, unknown> {
  const normal = normaliseFilter(filter);
  return {
    filterKind: normal.kind ?? null,
    filterCity: normal.city ?? null,
    filterCategories: normal.categories ?? null,
    filterStartsAfter: normal.startsAfter ?? null,
    filterStartsBefore: normal.startsBefore ?? null,
  };
}

/**
 * The filter as a condition on the events row `alias`, with `filterBindings`' names. A condition
 * whose value is null folds away when the statement is planned, so an unused one costs nothing.
 */
export const filterSql = (alias: string) => `(:filterKind::text is null or ${alias}.kind = :filterKind)
  and (:filterCity::text is null or lower(${alias}.city) = :filterCity)
  and (:filterCategories::text[] is null or lower(${alias}.category) = any(:filterCategories::text[]))
  and (:filterStartsAfter::timestamptz is null or ${alias}.starts_at > :filterStartsAfter)
  and (:filterStartsBefore::timestamptz is null or ${alias}.starts_at < :filterStartsBefore)`;
