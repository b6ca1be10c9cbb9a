// `npm run eval -- --interactions FILE --events FILE [--negatives 100] [--k 10] [--seed 42] [--half-life-days N] [--json]`
// Offline evaluation of the recommendation model (see src/eval/evaluate.ts).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { evaluate, parseEvalData } from '../src/eval/evaluate';
import { loadConfigOrExit } from '../src/lifecycle';

process.env.NODE_ENV ??= 'development';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      interactions: { type: 'string' },
      events: { type: 'string' },
      negatives: { type: 'string', default: '100' },
      k: { type: 'string', default: '10' },
      seed: { type: 'string', default: '42' },
      'half-life-days': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values.interactions || !values.events) {
    throw new Error(
      'usage: npm run eval -- --interactions FILE --events FILE [--negatives 100] [--k 10] [--seed 42] [--half-life-days N] [--json]',
    );
  }
  const config = loadConfigOrExit();
  const data = parseEvalData(readFileSync(values.interactions, 'utf8'), readFileSync(values.events, 'utf8'));
  if (data.interactions.length === 0) throw new Error('No readable interactions in the file');
  // The data's own first moment as the epoch keeps decayed values in range for data of any age.
  const epoch = new Date(Math.min(...data.interactions.map((i) => i.at.getTime()))).toISOString();
  const halfLifeDays = values['half-life-days'] ? Number(values['half-life-days']) : config.model.halfLifeDays;
  const started = Date.now();
  const result = await evaluate(
    data,
    { ...config.model, epoch, halfLifeDays },
    { negatives: Number(values.negatives), k: Number(values.k), seed: Number(values.seed) },
  );

  if (values.json) {
    console.log(JSON.stringify({ ...result, skippedLines: data.skipped.length, halfLifeDays }, null, 2));
    return;
  }
  console.log(
    `interactions: ${data.interactions.length} read, ${data.skipped.length} lines skipped${data.skipped.length ? ` (first: ${data.skipped[0]})` : ''}`,
  );
  console.log(
    `users evaluated: ${result.users} (${result.skippedUsers} with too little history); ${result.negatives} sampled negatives each; half-life ${halfLifeDays} days`,
  );
  console.log(`model         HR@${result.k}    NDCG@${result.k}`);
  for (const model of result.models) console.log(`${model.name.padEnd(12)}  ${model.hitRate.toFixed(4)}   ${model.ndcg.toFixed(4)}`);
  console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
