import type { Db } from '../data/db';
import { insertInteractions } from '../data/interactions';
import { lockForInteractions, sqlModelStore } from '../data/model-store';
import type { RecordInteractionPayload } from '../jobs/definitions';
import { applyInteractions, type ModelSettings } from './model';

/**
 * Writes accepted interactions and folds them into the recommendation model, in one transaction.
 * Safe to run any number of times for the same payloads: only rows this call inserts touch the
 * model, so a redelivered job changes nothing. Returns the ids of the rows this call inserted.
 * `beforeCommit` is awaited before the commit, and its failure rolls the transaction back.
 */
export async function persistInteractions(
  db: Db,
  settings: ModelSettings,
  payloads: RecordInteractionPayload[],
  beforeCommit?: Promise<unknown>,
): Promise<Set<string>> {
  // The same interaction twice in one batch (a client retry that joined the same job) is one row.
  const unique = [...new Map(payloads.map((p) => [p.id, p])).values()];
  return db.transaction(async (trx) => {
    await lockForInteractions(
      trx,
      unique.map((p) => p.userId),
    );
    const inserted = await insertInteractions(
      trx,
      unique.map((p) => ({ id: p.id, userId: p.userId, eventId: p.eventId, action: p.action, source: p.source, createdAt: p.acceptedAt })),
    );
    await applyInteractions(sqlModelStore(trx), settings, inserted);
    await beforeCommit;
    return new Set(inserted.map((row) => row.id));
  });
}
