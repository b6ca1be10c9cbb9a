import type { Db } from '../data/db';
import { addToScore, insertInteraction } from '../data/interactions';
import type { RecordInteractionPayload } from '../jobs/definitions';
import type { ActionWeights } from './weights';

/**
 * Writes an accepted interaction and adds its weight to the (user, event) score, in one
 * transaction. Safe to run any number of times for the same payload: only the call that inserts
 * the row touches the score, so a redelivered job changes nothing.
 */
export async function persistInteraction(
  db: Db,
  weights: ActionWeights,
  payload: RecordInteractionPayload,
): Promise<{ inserted: boolean }> {
  return db.transaction(async (trx) => {
    const inserted = await insertInteraction(trx, {
      id: payload.id,
      userId: payload.userId,
      eventId: payload.eventId,
      action: payload.action,
      source: payload.source,
      createdAt: payload.acceptedAt,
    });
    if (inserted) {
      await addToScore(trx, {
        userId: payload.userId,
        eventId: payload.eventId,
        delta: weights[payload.action],
        at: payload.acceptedAt,
      });
    }
    return { inserted };
  });
}
