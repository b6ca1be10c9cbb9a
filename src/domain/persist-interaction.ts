import type { Db } from '../data/db';
import { insertInteractions } from '../data/interactions';
import { lockForInteractions, sqlModelStore } from '../data/model-store';
import { advanceUserVersions } from '../feed/versions';
import type { RecordInteractionPayload } from '../jobs/definitions';
import { applyInteractions, settingsToWrite, type ModelSettings } from './model';

/**
 * Writes accepted interactions, folds them into the recommendation model and advances their users'
 * feed versions (so that no feed ranked without them is served, see src/feed/feed.ts), in one
 * transaction; with the settings the model was built with (settingsToWrite), whatever `settings`
 * this release has. Safe to run any number of times for the same payloads: only rows this call inserts
 * touch the model or the versions, so a redelivered job changes nothing. Returns the ids of the rows
 * this call inserted.
 */
export async function persistInteractions(db: Db, settings: ModelSettings, payloads: RecordInteractionPayload[]): Promise<Set<string>> {
  // The same interaction twice in one batch (a client retry that joined the same job) is one row.
  const unique = [...new Map(payloads.map((p) => [p.id, p])).values()];
  return db.transaction(async (trx) => {
    const built = await lockForInteractions(
      trx,
      unique.map((p) => p.userId),
    );
    const inserted = await insertInteractions(
      trx,
      unique.map((p) => ({
        id: p.id,
        userId: p.userId,
        eventId: p.eventId,
        action: p.action,
        source: p.source,
        createdAt: p.acceptedAt,
        occurredAt: p.occurredAt ?? p.acceptedAt,
        recommendationId: p.recommendationId ?? null,
      })),
    );
    await applyInteractions(sqlModelStore(trx), settingsToWrite(settings, built), inserted);
    await advanceUserVersions(
      trx,
      inserted.map((row) => row.userId),
    );
    return new Set(inserted.map((row) => row.id));
  });
}
