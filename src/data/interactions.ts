import { raw } from 'objection';
import type { Knex } from 'knex';
import { InteractionModel, type InteractionSource } from './models';
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
    // clock_timestamp(), not now(): taken after the user's lock, it orders one user's rows as they
    // were applied to the model, which is the order a rebuild replays them in.
    .insert({ ...row, createdAt: timestamptz(row.createdAt), persistedAt: raw('clock_timestamp()') })
    .onConflict('id')
    .ignore()
    // Objection echoes the input (id included) even when nothing was inserted; persisted_at is set
    // only by the database, so it is present only for a row this statement wrote.
    .returning('persistedAt');
  return inserted.persistedAt !== undefined;
}

// Bound as text and cast by PostgreSQL, so the microseconds a JS Date cannot hold survive.
const timestamptz = (iso: string) => raw('?::timestamptz', [iso]);
