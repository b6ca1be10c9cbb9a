import type { Db } from './db';

/** `2027-01-01`: the first day of the month of `date` (UTC), `months` later. */
function monthStart(date: Date, months = 0): string {
  return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + months, 1)).toISOString().slice(0, 10);
}

const partitionName = (from: string) => `interactions_${from.slice(0, 7).replace('-', '_')}`;

/**
 * Turns `interactions` into a table partitioned by month of `created_at`, in one transaction: the
 * table as it is becomes the partition of everything before `firstMonth` (attached, not copied: its
 * primary key already includes created_at), followed by `months` monthly partitions. The code
 * needs no change: the worker's insert conflicts on (id, created_at), and the append-only triggers
 * are created on the parent, which PostgreSQL applies to every partition.
 *
 * The check that the old rows all fall before `firstMonth` scans the table under an exclusive lock;
 * on a large table, add the constraint NOT VALID and VALIDATE it beforehand. Partitions for later
 * months must exist before their first row arrives: the worker keeps them (`ensurePartitions`).
 */
export async function partitionInteractions(db: Db, firstMonth: Date, months: number): Promise<void> {
  const boundary = monthStart(firstMonth);
  await db.transaction(async (trx) => {
    await trx.raw('alter table interactions rename to interactions_before');
    await trx.raw('alter table interactions_before rename constraint interactions_pkey to interactions_before_pkey');
    await trx.raw(
      'create table interactions (like interactions_before including defaults including constraints including indexes) partition by range (created_at)',
    );
    // After the copy of its constraints, or the parent would refuse every new row.
    await trx.raw(`alter table interactions_before add constraint interactions_before_range check (created_at < '${boundary}')`);
    await trx.raw(`alter table interactions attach partition interactions_before for values from (minvalue) to ('${boundary}')`);
    // A row trigger on the parent reaches every partition, those to come too (its copy replaces the
    // old table's own); a TRUNCATE trigger reaches only the table it is on, so each has one.
    await trx.raw(`
      drop trigger interactions_no_update_delete on interactions_before;
      create trigger interactions_no_update_delete before update or delete on interactions
        for each row execute function interactions_reject_change();
      create trigger interactions_no_truncate before truncate on interactions
        for each statement execute function interactions_reject_change();`);
    await addMonthlyPartitions(trx, firstMonth, months);
  });
}

/** Creates the monthly partitions of `months` months from `from`'s month that do not exist yet; returns their names. */
export async function addMonthlyPartitions(db: Db, from: Date, months: number): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < months; i += 1) {
    const [start, end] = [monthStart(from, i), monthStart(from, i + 1)];
    const name = partitionName(start);
    names.push(name);
    await db.raw(`create table if not exists ${name} partition of interactions for values from ('${start}') to ('${end}')`);
    await db.raw(`create or replace trigger interactions_no_truncate before truncate on ${name}
                    for each statement execute function interactions_reject_change()`);
  }
  return names;
}

/** Whether `interactions` is partitioned (see partitionInteractions). */
export async function isPartitioned(db: Db): Promise<boolean> {
  const { rows } = await db.raw<{ rows: { relkind: string }[] }>("select relkind from pg_class where oid = to_regclass('interactions')");
  return rows[0]?.relkind === 'p';
}

/**
 * When `interactions` is partitioned, creates this month's and the next two months' partitions
 * that are missing (the worker runs it at start and twice a day; workers starting together take
 * turns); otherwise does nothing. Returns the partitions it made sure of.
 */
export async function ensurePartitions(db: Db, now = new Date()): Promise<string[]> {
  if (!(await isPartitioned(db))) return [];
  return db.transaction(async (trx) => {
    await trx.raw("select pg_advisory_xact_lock(hashtext('interactions partitions'))");
    return addMonthlyPartitions(trx, now, 3);
  });
}
