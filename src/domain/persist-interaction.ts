import type { Db } from '../data/db';
import { insertInteraction } from '../data/interactions';
import { lockForInteraction, sqlModelStore } from '../data/model-store';
import type { RecordInteractionPayload } from '../jobs/definitions';
import { applyInteraction, type ModelSettings } from './model';

/**
 * Writes an accepted interaction and folds it into the recommendation model, in one transaction.
 * Safe to run any number of times for the same payload: only the call that inserts the row
 * touches the model, so a redelivered job changes nothing.
 */
export async function persistInteraction(
  db: Db,
  settings: ModelSettings,
  payload: RecordInteractionPayload,
): Promise<{ inserted: boolean }> {
  return db.transaction(async (trx) => {
    await lockForInteraction(trx, payload.userId);
    const inserted = await insertInteraction(trx, {
      id: payload.id,
      userId: payload.userId,
      eventId: payload.eventId,
      action: payload.action,
      source: payload.source,
      createdAt: payload.acceptedAt,
    });
    if (inserted) {
      await applyInteraction(sqlModelStore(trx), settings, {
        userId: payload.userId,
        eventId: payload.eventId,
        action: payload.action,
        createdAt: new Date(payload.acceptedAt),
      });
    }
    return { inserted };
  });
}
