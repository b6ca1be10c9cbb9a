import type { Db } from '../../src/data/db';
import { InteractionModel, UserEventScoreModel } from '../../src/data/models';
import { waitFor } from './wait';

export function interactionsOf(db: Db, userId: string) {
  return InteractionModel.query(db).where({ userId }).orderBy('createdAt');
}

/** Waits until the user has `count` interaction rows, and returns them oldest first. */
export async function waitForInteractions(db: Db, userId: string, count: number) {
  return waitFor(`${count} interaction row(s) of ${userId}`, async () => {
    const rows = await interactionsOf(db, userId);
    return rows.length >= count ? rows : undefined;
  });
}

export function scoreOf(db: Db, userId: string, eventId: string) {
  return UserEventScoreModel.query(db).findById([userId, eventId]);
}
