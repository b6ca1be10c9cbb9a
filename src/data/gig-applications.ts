import type { Knex } from 'knex';
import type { Db } from './db';
import { GigApplicationModel } from './models';

/** Inserts the application; throws Objection's UniqueViolationError when the user already applied. */
export async function insertGigApplication(
  trx: Knex.Transaction,
  application: { eventId: string; userId: string; message: string | null },
): Promise<GigApplicationModel> {
  return GigApplicationModel.query(trx).insertAndFetch(application);
}

export async function findGigApplication(db: Db, eventId: string, userId: string): Promise<GigApplicationModel | undefined> {
  return GigApplicationModel.query(db).findOne({ eventId, userId });
}
