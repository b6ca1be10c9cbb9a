import type { Knex } from 'knex';

/**
 * `interactions` ready for range partitions on `created_at`: a partitioned table's unique keys must
 * include the partition key, so the primary key becomes (id, created_at), and the table as it is
 * can later be attached, without a rewrite, as the first partition of a partitioned one
 * (docs/scaling.md; test/partitioning.test.ts runs that conversion). The worker's insert conflicts
 * on both columns, and looks an id up when a retry may carry it with a later time (see
 * insertInteractions).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    'alter table interactions drop constraint interactions_pkey, add constraint interactions_pkey primary key (id, created_at)',
  );
}

export async function down(knex: Knex): Promise<void> {
  const { rows } = await knex.raw<{ rows: { relkind: string }[] }>("select relkind from pg_class where oid = to_regclass('interactions')");
  if (rows[0]?.relkind === 'p') {
    // A partitioned table's key must include created_at; going back means undoing the partitions first.
    throw new Error(
      'interactions is partitioned (npm run db:partition): copy it back into an unpartitioned table before rolling this back',
    );
  }
  await knex.raw('alter table interactions drop constraint interactions_pkey, add constraint interactions_pkey primary key (id)');
}
