import { raw } from 'objection';
import type { Knex } from 'knex';
import { InteractionModel, UserEventScoreModel, type InteractionSource } from './models';
import type { Action } from '../domain/weights';

export interface InteractionRow {
  id: string;
  userId: string;
  eventId: string;
  action: Action;
  source: InteractionSource;
  /** ISO 8601 with microseconds: when the interaction was accepted. */
  createdAt: string;
}

/**
 * Inserts the row unless one with the same id is already there (a redelivered job).
 * Returns whether this call inserted it.
 */
export async function insertInteraction(trx: Knex.Transaction, row: InteractionRow): Promise<boolean> {
  const inserted = await InteractionModel.query(trx)
    .insert({ ...row, createdAt: timestamptz(row.createdAt) })
    .onConflict('id')
    .ignore()
    // Objection echoes the input (id included) even when nothing was inserted; persisted_at is set
    // only by the database, so it is present only for a row this statement wrote.
    .returning('persistedAt');
  return inserted.persistedAt !== undefined;
}

/** Adds `delta` to the pair's score, creating the pair on its first interaction. */
export async function addToScore(
  trx: Knex.Transaction,
  pair: { userId: string; eventId: string; delta: number; at: string },
): Promise<void> {
  await UserEventScoreModel.query(trx)
    .insert({ userId: pair.userId, eventId: pair.eventId, score: pair.delta, interactionCount: 1, lastInteractionAt: timestamptz(pair.at) })
    .onConflict(['userId', 'eventId'])
    .merge({
      score: raw('user_event_scores.score + excluded.score'),
      interactionCount: raw('user_event_scores.interaction_count + 1'),
      lastInteractionAt: raw('greatest(user_event_scores.last_interaction_at, excluded.last_interaction_at)'),
      updatedAt: raw('now()'),
    });
}

// Bound as text and cast by PostgreSQL, so the microseconds a JS Date cannot hold survive.
const timestamptz = (iso: string) => raw('?::timestamptz', [iso]);
