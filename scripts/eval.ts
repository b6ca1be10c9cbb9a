// `npm run eval -- --interactions FILE --events FILE [--negatives 100] [--k 10] [--seed 42] [--half-life-days N] [--candidate-scale 1] [--json]`
// Offline evaluation of the recommendation model (see src/eval/evaluate.ts).
import { parseArgs } from 'node:util';
import { evaluate, readEvalFiles, scaledFeedLimits, timeSpan } from '../src/eval/evaluate';
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
      'candidate-scale': { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values.interactions || !values.events) {
    throw new Error(
      'usage: npm run eval -- --interactions FILE --events FILE [--negatives 100] [--k 10] [--seed 42] [--half-life-days N] [--candidate-scale 1] [--json]',
    );
  }
  const config = loadConfigOrExit();
  const data = await readEvalFiles(values.interactions, values.events);
  if (data.interactions.length === 0) throw new Error('No readable interactions in the file');
  const halfLifeDays = values['half-life-days'] ? Number(values['half-life-days']) : config.model.halfLifeDays;
  // The middle of the data as the epoch keeps the stored (epoch-scaled) values in range for data of
  // any age: 2^x overflows past x = 1024 half-lives on either side.
  const { first, last } = timeSpan(data);
  const epoch = new Date((first.getTime() + last.getTime()) / 2).toISOString();
  const halfLivesEachSide = (last.getTime() - first.getTime()) / 2 / (halfLifeDays * 86_400_000);
  if (!(halfLifeDays > 0) || halfLivesEachSide > 1000) {
    throw new Error(
      `--half-life-days ${halfLifeDays} is too short for data spanning ${((last.getTime() - first.getTime()) / 86_400_000).toFixed(0)} days`,
    );
  }
  const scale = Number(values['candidate-scale']);
  if (!(scale > 0 && scale <= 10)) throw new Error('--candidate-scale must be a number in (0, 10]');
  const feedLimits = scaledFeedLimits(scale);
  const started = Date.now();
  const result = await evaluate(
    data,
    { ...config.model, epoch, halfLifeDays },
    { negatives: Number(values.negatives), k: Number(values.k), seed: Number(values.seed), feedLimits },
  );

  if (values.json) {
    console.log(JSON.stringify({ ...result, skippedLines: data.skipped.length, duplicates: data.duplicates, halfLifeDays }, null, 2));
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
  const { feed } = result;
  console.log(`${'feed'.padEnd(12)}  ${feed.hitRate.toFixed(4)}   ${feed.ndcg.toFixed(4)}`);
  console.log(
    `(feed: the held-out event against the whole feed, ${feed.meanCandidates.toFixed(0)} candidates on average; among them ${(feed.recall * 100).toFixed(1)} % of the time)`,
  );
  console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
