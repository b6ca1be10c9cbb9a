import type { Knex } from 'knex';
import { v5 as uuidv5, v7 as uuidv7 } from 'uuid';
import { readBy, settleBy } from '../ops/deadline';
import { NotFoundError } from '../errors';
import { JOBS, type RecordInteractionPayload } from '../jobs/definitions';
import { enqueueInTransaction } from '../jobs/outbox';
import type { Producer } from '../jobs/producer';
import type { RankingCache } from '../feed/ranking-cache';
import type { Logger } from '../ops/logger';
import { acceptanceTime } from './clock';
import { isUuid } from './ids';
import type { Action } from './weights';

export interface RecordInteractionDeps {
  eventExists(eventId: string): Promise<boolean>;
  producer: Pick<Producer, 'enqueueInteractions'>;
  feed: Pick<RankingCache, 'hide'>;
  logger: Pick<Logger, 'warn'>;
}

/** Actions after which the event leaves the user's feed. */
const HIDING_ACTIONS: readonly Action[] = ['DISMISS', 'APPLY'];

/**
 * Hides the event from the feed at once; the model catches up when the worker runs. Best effort,
 * given up at `deadline` (epoch ms): the interaction is already safe.
 */
export async function hideFromFeed(
  deps: Pick<RecordInteractionDeps, 'feed' | 'logger'>,
  userId: string,
  eventId: string,
  deadline: number,
): Promise<void> {
  const hidden = await settleBy(
    deps.feed.hide(userId, eventId).then(() => true),
    deadline,
    false,
  );
  if (!hidden) deps.logger.warn({ eventId }, 'could not hide the event from the feed in time; the worker will');
}

export interface InteractionInput {
  userId: string;
  eventId: string;
  action: Action;
  source: RecordInteractionPayload['source'];
  /**
   * A client's name for this one interaction (the Idempotency-Key header): a retry with the same
   * key gets the same id, so it can never be recorded twice.
   */
  idempotencyKey?: string;
  /** When the user acted, already corrected for the client's clock (see resolveOccurredAt). */
  occurredAt?: Date;
  /** The feed ranking the client says it came from, for attribution. */
  recommendationId?: string;
  /** When to give up waiting on Redis (epoch ms): the request's deadline. */
  deadline: number;
}

// Namespace of the ids derived from idempotency keys (UUIDv5).
const IDEMPOTENT_IDS = '6f1c2a4e-8d3b-5e7f-9a1c-2b3d4e5f6a7b';

/**
 * Accepts an interaction: checks the event exists, stamps it with its id and acceptance time, and
 * queues it. Resolves only once the job is stored; the worker writes the row.
 */
export async function recordInteraction(deps: RecordInteractionDeps, input: InteractionInput): Promise<RecordInteractionPayload> {
  const [outcome] = await recordInteractions(deps, [input], input.deadline);
  if (outcome instanceof NotFoundError) throw outcome;
  return outcome!;
}

/**
 * Accepts interactions together (POST /interactions/batch): each whose event does not exist is
 * refused on its own (404 `event_not_found`), and the rest are queued in one job, so that either all
 * of them are stored in Redis or, past `deadline`, none is (503). Outcomes in the order given.
 */
export async function recordInteractions(
  deps: RecordInteractionDeps,
  inputs: Omit<InteractionInput, 'deadline'>[],
  deadline: number,
): Promise<(RecordInteractionPayload | NotFoundError)[]> {
  // A stalled PostgreSQL must not hold the request past its deadline: the client is told to retry.
  const exists = await readBy(Promise.all(inputs.map((input) => isUuid(input.eventId) && deps.eventExists(input.eventId))), deadline);
  // Items that share an idempotency key name one interaction: the first is recorded, and the others
  // are answered with it, nothing of their own (their row, their hiding) taking effect.
  const recorded = new Map<string, RecordInteractionPayload>();
  const outcomes = inputs.map((input, i) => {
    if (!exists[i]) return new NotFoundError('Event not found', { code: 'event_not_found' });
    const payload = stamp(input, idOf(input));
    const first = recorded.get(payload.id);
    if (first) return first;
    recorded.set(payload.id, payload);
    return payload;
  });
  const accepted = [...recorded.values()];
  await deps.producer.enqueueInteractions(accepted, deadline);
  await Promise.all(
    accepted.filter((p) => HIDING_ACTIONS.includes(p.action)).map((p) => hideFromFeed(deps, p.userId, p.eventId, deadline)),
  );
  return outcomes;
}

/** A fresh, time-ordered id; or, for an Idempotency-Key, the one id its user and key always give. */
const idOf = (input: Pick<InteractionInput, 'userId' | 'idempotencyKey'>) =>
  input.idempotencyKey ? uuidv5(`${input.userId}\n${input.idempotencyKey}`, IDEMPOTENT_IDS) : uuidv7();

/**
 * For the platform's other handlers: records an interaction as part of the caller's transaction
 * (adding an event to a collection records a SAVE, applying to a gig an APPLY). The interaction is
 * delivered to the same queue and worker once the transaction commits, exactly once, even if Redis
 * is down at the time; if the transaction rolls back, nothing is recorded. The caller has checked
 * that the event exists. Returns the payload, whose `id` will be the row's id.
 */
export async function recordInteractionInTransaction(
  trx: Knex.Transaction,
  input: Omit<InteractionInput, 'idempotencyKey' | 'deadline'>,
): Promise<RecordInteractionPayload> {
  const payload = stamp(input, uuidv7());
  await enqueueInTransaction(trx, JOBS.recordInteractions, { interactions: [payload] }, { jobId: payload.id });
  return payload;
}

/**
 * The job payload of an accepted interaction: its id, the moment of acceptance and, when the client
 * said, when the user acted. Keys in the schema's order: the producer signs it without parsing it.
 */
function stamp(input: Omit<InteractionInput, 'idempotencyKey' | 'deadline'>, id: string): RecordInteractionPayload {
  return {
    id,
    userId: input.userId,
    eventId: input.eventId.toLowerCase(),
    action: input.action,
    source: input.source,
    acceptedAt: acceptanceTime(),
    ...(input.occurredAt && { occurredAt: input.occurredAt.toISOString() }),
    ...(input.recommendationId && { recommendationId: input.recommendationId }),
  };
}
