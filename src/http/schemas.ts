import { z } from 'zod';
import { EVENT_KINDS } from '../data/models';
import { isStorableText } from '../domain/ids';
import { ACTIONS } from '../domain/weights';
import { REASON_CODES } from '../feed/ranking';
import { SIMILAR_REASON_CODES } from '../feed/similar';
import { idField, storableText } from './validate';

// What the API takes and gives, described once: the routes validate requests with these schemas
// and shape their answers to them, and the OpenAPI document (openapi.ts) is generated from them.

const anObject = { error: 'The body must be a JSON object' };
const EXAMPLE_TIME = '2026-12-06T09:15:00Z';
const dateTime = () => z.iso.datetime({ offset: true }).meta({ examples: [EXAMPLE_TIME] });
/** An event's id in a body, with an example the docs show. */
const eventIdField = () => idField(['0193a0de-0000-7000-8000-000000000004']).meta({ description: "The event's id (a UUID)" });

export const action = z.enum(ACTIONS, { error: `must be one of ${ACTIONS.join(', ')}` }).meta({ id: 'Action' });

// ── Requests ──

const clientTime = (description: string) =>
  z.iso
    .datetime({ offset: true, error: 'must be an ISO 8601 date-time with an offset, e.g. 2026-11-30T09:15:00Z' })
    .meta({ examples: [EXAMPLE_TIME] })
    .transform((s) => new Date(s))
    .meta({ description });

const occurredAt = clientTime(
  "When the user acted, by the client's clock (with the request's sentAt, corrected for its skew); within the last INTERACTION_MAX_AGE_DAYS and at most 5 minutes ahead, else 400 occurred_at_out_of_range. Default: when the API accepted it",
);

/** Unknown keys (a `userId`, say) are dropped: the user is always the token's subject. */
const recommendationId = storableText(200).optional().meta({
  description:
    'The recommendationId of the feed page the user acted from: the interaction is attributed to that ranking. Without it, to the latest page that showed the event to the user within FEED_ATTRIBUTION_HOURS',
});

/** An idempotency key, in the header or the body of POST /interactions, or on a batch item: 1 to 200 visible ASCII characters. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;
const idempotencyKeyValue = z.string().regex(IDEMPOTENCY_KEY, 'must be 1 to 200 visible ASCII characters');

/** What an interaction carries, alone or as a batch item. */
const interactionFields = { eventId: eventIdField(), action, occurredAt: occurredAt.optional(), recommendationId };

export const interactionBody = z.object(
  {
    ...interactionFields,
    idempotencyKey: idempotencyKeyValue.optional().meta({
      description:
        'The Idempotency-Key header in the body, as a batch item carries it: either makes retries safe; when both are sent they must be the same (else 400)',
    }),
  },
  anObject,
);

export const idempotencyKey = z
  .string()
  .regex(IDEMPOTENCY_KEY, 'Idempotency-Key must be 1 to 200 visible ASCII characters')
  .optional()
  .meta({ description: 'Makes retries safe: a retry with the same key (per user) gets the same id and is recorded at most once' });

/** Most interactions one batch request carries: one job's worth. */
export const MAX_BATCH_ITEMS = 500;

export const batchItem = z.object(
  {
    ...interactionFields,
    idempotencyKey: idempotencyKeyValue.optional().meta({
      description: 'As the Idempotency-Key header of POST /interactions: a retried batch gets the same ids and records nothing new',
    }),
  },
  { error: 'must be a JSON object' },
);

/** The batch as documented; its items are validated one by one (batchEnvelope), each with its own answer. */
export const batchBody = z.object(
  {
    sentAt: clientTime("The client's clock when it sent the request: occurredAt values are corrected by the difference").optional(),
    interactions: z.array(batchItem).min(1).max(MAX_BATCH_ITEMS),
  },
  anObject,
);

export const batchEnvelope = batchBody.extend({
  interactions: z
    .array(z.unknown(), { error: 'must be an array' })
    .min(1, 'must hold at least one interaction')
    .max(MAX_BATCH_ITEMS, `must hold at most ${MAX_BATCH_ITEMS} interactions`),
});

export const newEventBody = z.object(
  {
    title: storableText(200),
    startsAt: z.iso
      .datetime({ offset: true, error: 'must be an ISO 8601 date-time' })
      .transform((s) => new Date(s))
      // An offset can carry year 9999 into 10000 (or 0000 back to −1), which no date-time in an answer can write.
      .refine((at) => at.getUTCFullYear() >= 0 && at.getUTCFullYear() <= 9999, 'must lie within the years 0000 to 9999 in UTC'),
    kind: z.enum(EVENT_KINDS, { error: 'must be "event" or "gig"' }),
    category: storableText(100).nullish(),
    tags: z.array(storableText(50)).max(20, 'must have at most 20 tags').optional(),
    city: storableText(100).nullish(),
    ticketUrl: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      .max(2000)
      .refine(isStorableText, 'must be text without control characters')
      .nullish(),
  },
  anObject,
);

export const newCollectionBody = z.object({ name: storableText(100) }, anObject);
export const newEntryBody = z.object({ eventId: eventIdField() }, anObject);
export const applicationBody = z.object({ message: storableText(2000).nullish() }, anObject);

/**
 * A whole number given as query text, `min` to `max`, `fallback` when absent; described to OpenAPI
 * as the integer it is (its text form is how a query carries any value).
 */
function wholeNumberQuery(min: number, max: number, fallback: number, description: string) {
  const message = `must be a whole number from ${min} to ${max}`;
  return z
    .string({ error: 'must be a single whole number' })
    .regex(/^\d{1,3}$/, message)
    .transform(Number)
    .pipe(z.number().min(min, message).max(max, message))
    .default(fallback)
    .meta({ description, type: 'integer', minimum: min, maximum: max } as { description: string });
}

/** `?limit=&cursor=` of every paged list: limit 1 to 100 (default 20), an opaque cursor. */
export const pageQuery = z.object({
  limit: wholeNumberQuery(1, 100, 20, 'Items per page, 1 to 100 (default 20)'),
  cursor: z
    .string({ error: 'must be a single string' })
    .min(1)
    .max(200, 'is not valid')
    .optional()
    .meta({ description: 'nextCursor of the previous page' }),
});

const queryText = (max: number, description: string) =>
  z
    .string({ error: 'must be given once' })
    .pipe(storableText(max))
    .meta({ description, minLength: 1, maxLength: max } as { description: string });
const queryTime = (description: string) =>
  z.iso
    .datetime({ offset: true, error: 'must be an ISO 8601 date-time with an offset, e.g. 2026-12-11T18:00:00+01:00' })
    .meta({ examples: ['2026-12-11T18:00:00+01:00'], description })
    .transform((s) => new Date(s));

/** The feed's filters, combined with AND; the feed is ranked within them. */
export const feedQuery = pageQuery
  .extend({
    kind: z.enum(EVENT_KINDS, { error: 'must be "event" or "gig"' }).optional().meta({ description: 'Only events, or only gigs' }),
    city: queryText(100, 'Only events in this city (case-insensitive)').optional(),
    category: z
      .union([z.string(), z.array(z.string())], { error: 'must be text' })
      .transform((value) => (Array.isArray(value) ? value : [value]))
      .pipe(z.array(storableText(100)).max(20, 'must be given at most 20 times'))
      .optional()
      .meta({ description: 'Only events of this category (case-insensitive); repeat it for any of several' }),
    startsAfter: queryTime('Only events starting after this instant').optional(),
    startsBefore: queryTime('Only events starting before this instant').optional(),
  })
  // Only when both are dates: one that failed already has its own message.
  .refine((q) => !(q.startsAfter instanceof Date && q.startsBefore instanceof Date) || q.startsAfter < q.startsBefore, {
    path: ['startsBefore'],
    message: 'must be later than startsAfter',
  });

/** `GET /events/{id}/similar?limit=`: 1 to 50, default 10. */
export const similarQuery = z.object({
  limit: wholeNumberQuery(1, 50, 10, 'How many events, 1 to 50 (default 10)'),
});

// ── Responses ──

export const errorResponse = z
  .object({ error: z.object({ code: z.string(), message: z.string() }) })
  .meta({ id: 'Error', description: 'Every error: a stable code, and a message for people' });

export const acceptedInteraction = z.object({ id: z.guid(), eventId: z.string(), action, status: z.literal('queued') });

export const batchResponse = z.object({
  results: z.array(
    z.union([
      z.object({ status: z.literal(202), id: z.guid(), eventId: z.string(), action }),
      z.object({ status: z.union([z.literal(400), z.literal(404), z.literal(429)]), error: errorResponse.shape.error }),
    ]),
  ),
});

export const eventResponse = z
  .object({
    id: z.guid(),
    title: z.string(),
    startsAt: dateTime(),
    kind: z.enum(EVENT_KINDS),
    category: z.string().nullable(),
    tags: z.array(z.string()),
    city: z.string().nullable(),
    ticketUrl: z.string().nullable(),
    organizerId: z.string(),
    createdAt: dateTime(),
  })
  .meta({ id: 'Event' });

export const newCollectionResponse = z.object({ id: z.guid(), name: z.string(), createdAt: dateTime() });

export const collectionResponse = z
  .object({
    id: z.guid(),
    name: z.string(),
    createdAt: dateTime(),
    eventCount: z.int().min(0).meta({ description: 'How many events the collection holds' }),
    eventIds: z
      .array(z.string())
      .max(100)
      .meta({ description: 'The 100 latest events, in the order they were added; GET /collections/{id}/events pages them all' }),
  })
  .meta({ id: 'Collection' });

export const collectionEntry = z.object({ eventId: z.string(), addedAt: dateTime() });
export const addedEntry = z.object({ collectionId: z.guid(), eventId: z.string(), addedAt: dateTime() });

export const gigApplicationResponse = z
  .object({
    id: z.guid(),
    eventId: z.string(),
    status: z.enum(['submitted', 'accepted', 'rejected', 'withdrawn']),
    message: z.string().nullable(),
    createdAt: dateTime(),
  })
  .meta({ id: 'GigApplication' });

export const reason = z
  .object({
    code: z.enum(REASON_CODES),
    text: z.string(),
    feature: z.object({ type: z.string(), value: z.string() }).optional(),
  })
  .meta({
    id: 'Reason',
    description:
      'Why an event is in the feed: up to three per item, strongest first, one per text (several matches_interest reasons name different features)',
  });

export const feedItem = z.object({
  eventId: z.string(),
  /** 1-based, in the ranking the page was cut from (recommendationId). */
  position: z.number().int().positive(),
  score: z.number(),
  reasons: z.array(reason),
  event: z.object({
    id: z.string(),
    title: z.string(),
    startsAt: dateTime(),
    kind: z.string(),
    category: z.string().nullable(),
    tags: z.array(z.string()),
    city: z.string().nullable(),
  }),
});

export const similarReason = z
  .object({
    code: z.enum(SIMILAR_REASON_CODES),
    text: z.string(),
    feature: z.object({ type: z.string(), value: z.string() }).optional(),
  })
  .meta({ id: 'SimilarReason', description: 'Why an event is shown beside another, one reason of each code at most' });

export const similarItem = feedItem.omit({ position: true }).extend({ reasons: z.array(similarReason) });

/** Events to show beside one: best first. */
export const similarEvents = z.object({ items: z.array(similarItem) });

/**
 * A page of the feed: `recommendationId` names the frozen ranking it was cut from, the same on every
 * page of it; an interaction that sends it is attributed to that ranking.
 */
export const feedPage = z.object({
  recommendationId: z.string(),
  items: z.array(feedItem),
  nextCursor: z.string().nullable(),
});

/** A page of a list, and the cursor of the next (null on the last). */
export const page = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });

export type Json<S extends z.ZodType> = z.input<S>;
