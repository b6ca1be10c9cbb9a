import type { Db } from '../../src/data/db';

/** A node of PostgreSQL's `explain (analyze, format json)` plan. */
export interface PlanNode {
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

/**
 * The first statement `load` runs, run again under `explain analyze`: every node of the plan
 * PostgreSQL ran, and what `load` returned.
 */
export async function planNodes<T>(db: Db, load: () => Promise<T>): Promise<{ nodes: PlanNode[]; result: T }> {
  let statement: { sql: string; bindings: unknown[] } | undefined;
  const capture = (query: { sql: string; bindings: unknown[] }) => (statement ??= query);
  db.on('query', capture);
  const result = await load().finally(() => db.off('query', capture));
  const { rows } = await db.raw<{ rows: { 'QUERY PLAN': [{ Plan: PlanNode }] }[] }>(
    `explain (analyze, format json) ${statement!.sql.replace(/\$(\d+)/g, '?')}`,
    statement!.bindings as never,
  );
  const nodes: PlanNode[] = [];
  const walk = (node: PlanNode) => {
    nodes.push(node);
    for (const child of node.Plans ?? []) walk(child);
  };
  walk(rows[0]!['QUERY PLAN'][0].Plan);
  return { nodes, result };
}
