import { UnrecoverableError } from 'bullmq';
import { z } from 'zod';
import { isUuid } from '../domain/ids';
import { persistInteractions } from '../domain/persist-interaction';
import { ACTIONS } from '../domain/weights';
import { counts, type WriteResult } from './interaction-writer';
import { defineJob, type WorkerDeps } from './job';

export const SOURCES = ['api', 'collection', 'gig_application'] as const;

/** Most interactions one job carries. */
export const MAX_INTERACTIONS_PER_JOB = 500;

const recordInteractionPayload = z.object({
  /** UUIDv7 (or v5 of an Idempotency-Key) made by the API: the row's primary key. */
  id: z.uuid(),
  userId: z.string().min(1).max(255),
  eventId: z.string().refine(isUuid, 'must be a UUID'),
  action: z.enum(ACTIONS),
  source: z.enum(SOURCES),
  /** When the API accepted the interaction (becomes interactions.created_at). */
  acceptedAt: z.iso.datetime({ precision: 6 }),
  /**
   * When the user acted, by the client's clock corrected for skew (interactions.occurred_at);
   * absent when the client sent no time, and in jobs queued before it existed: then acceptedAt.
   */
  occurredAt: z.iso.datetime().optional(),
  /** The feed ranking the client said it came from (GET /recommendations' recommendationId). */
  recommendationId: z.string().min(1).max(200).optional(),
});
export type RecordInteractionPayload = z.infer<typeof recordInteractionPayload>;

/**
 * Records interactions: one or more, accepted together (the API's group commit, or one from the
 * outbox of collections and gigs). One job, one transaction (or a share of one, see InteractionWriter).
 */
export const recordInteractionsJob = defineJob({
  name: 'interaction.batch',
  payload: z.object({ interactions: z.array(recordInteractionPayload).min(1).max(MAX_INTERACTIONS_PER_JOB) }),
  async handle(deps, { interactions }, log) {
    const result = await persist(deps, interactions);
    log.debug(result, 'interactions persisted');
    return result;
  },
});

/**
 * The name single interactions were queued under before every recording became a batch. Jobs and
 * outbox rows of it may still wait in a deployment being upgraded: the worker takes one as a batch
 * of one. Nothing queues it any more.
 */
export const legacyRecordInteractionJob = defineJob({
  name: 'interaction.record',
  payload: recordInteractionPayload,
  async handle(deps, interaction, log) {
    return recordInteractionsJob.handle(deps, { interactions: [interaction] }, log);
  },
});

/** Stores interactions and returns the ids of the rows it inserted. */
export async function store(deps: WorkerDeps, payloads: RecordInteractionPayload[]): Promise<Set<string>> {
  const inserted = await persistInteractions(deps.db, deps.config.model, payloads);
  if (inserted.size > 0) deps.afterStore?.();
  return inserted;
}

async function persist(deps: WorkerDeps, payloads: RecordInteractionPayload[]): Promise<WriteResult> {
  const write = deps.writer
    ? (p: RecordInteractionPayload[]) => deps.writer!.write(p)
    : async (p: RecordInteractionPayload[]) => counts(p, await store(deps, p));
  const result = await write(payloads).catch(async (error: unknown) => {
    if (!isDataError(error)) throw error; // connection lost, deadlock, timeout: retried with backoff
    if (payloads.length === 1) throw new UnrecoverableError(`Cannot be stored ${dataErrorMessage(error)}`);
    return persistOneByOne(deps, payloads);
  });
  const now = Date.now();
  if (result.inserted > 0) for (const p of payloads) deps.metrics?.persistLag.observe((now - Date.parse(p.acceptedAt)) / 1000);
  return result;
}

/**
 * A value PostgreSQL cannot store fails the same way on every retry. In a batch, one such row must
 * not hold back the others: each is stored on its own, and the job then fails for good, naming the
 * rows that could not be stored (a retry from the dashboard re-runs only those; the rest are no-ops).
 */
async function persistOneByOne(deps: WorkerDeps, payloads: RecordInteractionPayload[]): Promise<WriteResult> {
  const total = { inserted: 0, duplicates: 0 };
  const refused: string[] = [];
  for (const payload of payloads) {
    try {
      const one = counts([payload], await store(deps, [payload]));
      total.inserted += one.inserted;
      total.duplicates += one.duplicates;
    } catch (error) {
      if (!isDataError(error)) throw error;
      refused.push(`${payload.id} ${dataErrorMessage(error)}`);
    }
  }
  if (refused.length > 0) throw new UnrecoverableError(`Cannot be stored (${refused.length} of ${payloads.length}): ${refused.join('; ')}`);
  return total;
}

/** PostgreSQL's data and integrity errors (classes 22 and 23): a value it cannot store. */
function isDataError(error: unknown): boolean {
  const code = (nativeError(error) as { code?: unknown }).code;
  return typeof code === 'string' && /^2[23]/.test(code);
}

function dataErrorMessage(error: unknown): string {
  const native = nativeError(error) as { code?: string; message?: string };
  return `(PostgreSQL ${native.code}): ${native.message}`;
}

const nativeError = (error: unknown) => (error as { nativeError?: unknown }).nativeError ?? error;
