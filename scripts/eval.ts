// `npm run eval -- --interactions FILE --events FILE [--fit] [--negatives 100] [--k 10] [--seed 42] [--half-life-days N] [--json]`
// Offline evaluation of what the feed serves (src/eval/evaluate.ts); --fit fits the ranking on a
// validation split and writes src/domain/recommendation-settings.json (src/eval/fit.ts).
import { parseArgs } from 'node:util';
import { RECOMMENDATION_SETTINGS } from '../src/domain/fitted-settings';
import { readEvalFiles, timeSpan, type EvalData } from '../eval/data';
import { evaluate, type EvalResult } from '../eval/evaluate';
import { fitSettings, writeFittedSettings } from '../eval/fit';
import { loadConfigOrExit } from '../src/lifecycle';

process.env.NODE_ENV ??= 'development';

const USAGE =
  'usage: npm run eval -- --interactions FILE --events FILE [--fit] [--negatives 100] [--k 10] [--seed 42] [--half-life-days N] [--json]';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      interactions: { type: 'string' },
      events: { type: 'string' },
      fit: { type: 'boolean', default: false },
      negatives: { type: 'string', default: '100' },
      k: { type: 'string', default: '10' },
      seed: { type: 'string', default: '42' },
      'half-life-days': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values.interactions || !values.events) throw new Error(USAGE);
  const config = loadConfigOrExit();
  const data = await readEvalFiles(values.interactions, values.events);
  if (data.interactions.length === 0) throw new Error('No readable interactions in the file');
  const halfLifeDays = values['half-life-days'] ? Number(values['half-life-days']) : config.model.halfLifeDays;
  const model = { ...config.model, halfLifeDays, epoch: middleOf(data, halfLifeDays) };
  const options = { negatives: Number(values.negatives), k: Number(values.k), seed: Number(values.seed) };
  const started = Date.now();

  if (values.fit) {
    const fitted = await fitSettings(data, model, { ...options, log: values.json ? () => undefined : console.log });
    const file = writeFittedSettings(fitted, { interactions: values.interactions, events: values.events });
    if (values.json) console.log(JSON.stringify(fitted, null, 2));
    else {
      console.log(`\nwrote ${file}; on the held-out interactions (test) with the fitted settings:`);
      report(fitted.test, data, halfLifeDays);
      console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
    }
    return;
  }

  const result = await evaluate(data, model, config.feed, options);
  if (values.json) {
    const settings = {
      version: RECOMMENDATION_SETTINGS.version,
      halfLifeDays,
      ranking: config.feed.ranking,
      candidates: config.feed.candidates,
    };
    console.log(JSON.stringify({ ...result, settings, skippedLines: data.skipped.length, duplicates: data.duplicates }, null, 2));
    return;
  }
  console.log(
    `interactions: ${data.interactions.length} read, ${data.skipped.length} lines skipped${data.skipped.length ? ` (first: ${data.skipped[0]})` : ''}`,
  );
  report(result, data, halfLifeDays);
  console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

/** The middle of the data as the epoch keeps the stored (epoch-scaled) values in range for data of any age. */
function middleOf(data: EvalData, halfLifeDays: number): string {
  const { first, last } = timeSpan(data);
  const halfLivesEachSide = (last.getTime() - first.getTime()) / 2 / (halfLifeDays * 86_400_000);
  if (!(halfLifeDays > 0) || halfLivesEachSide > 1000) {
    const days = ((last.getTime() - first.getTime()) / 86_400_000).toFixed(0);
    throw new Error(`--half-life-days ${halfLifeDays} is too short for data spanning ${days} days`);
  }
  return new Date((first.getTime() + last.getTime()) / 2).toISOString();
}

function report(result: EvalResult, _data: EvalData, halfLifeDays: number): void {
  const k = result.k;
  const row = (name: string, a: { hitRate: number; ndcg: number }) =>
    console.log(`${name.padEnd(26)}  ${a.hitRate.toFixed(4)}   ${a.ndcg.toFixed(4)}`);
  console.log(
    `users evaluated: ${result.users} (${result.skippedUsers} with too little history); catalogue ${result.catalogue} events; half-life ${halfLifeDays} days`,
  );
  for (const [title, slice] of [
    ['all held-out events', result],
    [`cold held-out events (fewer than ${result.cold.threshold} earlier interactions): ${result.cold.users} users`, result.cold],
  ] as const) {
    console.log(`\n${title}`);
    console.log(`${'whole catalogue'.padEnd(26)}  HR@${k}    NDCG@${k}`);
    row('feed', slice.feed);
    for (const baseline of slice.baselines) row(baseline.name, baseline);
    console.log(`${`sampled (${result.negatives} negatives)`.padEnd(26)}  HR@${k}    NDCG@${k}`);
    for (const model of slice.models) row(model.name, model);
    console.log(
      `feed: held-out event in the top 50 ${(slice.feed.recall50 * 100).toFixed(1)} %, among the candidates ${(slice.feed.candidateRecall * 100).toFixed(1)} %`,
    );
  }
  console.log(
    `\ncoverage: ${(result.coverage * 100).toFixed(1)} % of the catalogue is in some user's top ${k}; ${result.meanCandidates.toFixed(0)} candidates per feed on average`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
