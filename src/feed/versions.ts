import type { Knex } from 'knex';
import type { Db } from '../data/db';

/**
 * What a ranking was made from: the user's version (advanced by every transaction that stores
 * interactions of theirs) and the model's (advanced by every rebuild). Texts of bigints.
 */
export interface Versions {
  user: string;
  model: string;
}

/** The versions as the primary has them now. */
export async function currentVersions(db: Db, userId: string): Promise<Versions> {
  const { rows } = await db.raw<{ rows: Versions[] }>(
    `select coalesce((select version from feed_versions where user_id = ?), 0)::text as "user",
            coalesce((select version from model_state where name = 'scores'), 0)::text as model`,
    [userId],
  );
  return rows[0]!;
}

/** Advances these users' versions, inside the transaction that stores their interactions. */
export async function advanceUserVersions(trx: Knex.Transaction, userIds: string[]): Promise<void> {
  if (userIds.length === 0) return;
  await trx.raw(
    `insert into feed_versions as v (user_id, version)
     select user_id, 1 from unnest(?::text[]) as u(user_id) order by user_id
     on conflict (user_id) do update set version = v.version + 1`,
    [[...new Set(userIds)]],
  );
}

export const sameVersions = (a: Versions, b: Versions) => a.user === b.user && a.model === b.model;

/** Whether `a` includes at least everything `b` does. */
export const atLeast = (a: Versions, b: Versions) => BigInt(a.user) >= BigInt(b.user) && BigInt(a.model) >= BigInt(b.model);
