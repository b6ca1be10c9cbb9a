// `npm run eval -- --help`: offline evaluation of what the feed serves (eval/evaluate.ts), on CSV
// files or on the platform's own database; --fit fits the ranking on a validation split (eval/fit.ts).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { hitRateChart } from '../eval/plot';
import { Presets, SingleBar } from 'cli-progress';
import { RECOMMENDATION_SETTINGS } from '../src/domain/fitted-settings';
import { createDb } from '../src/data/db';
import { readEvalDatabase, readEvalFiles, squeezed, squeezeFactor, timeSpan, type EvalData } from '../eval/data';
import { evaluate, type EvalResult } from '../eval/evaluate';
import { COORDINATE_NAMES, fitSettings, writeFittedSettings } from '../eval/fit';
import type { Config } from '../src/config';
import { loadConfigOrExit } from '../src/ops/lifecycle';

process.env.NODE_ENV ??= 'development';

const USAGE = `usage: npm run eval -- (--interactions FILE --events FILE | --database [--since DAYS]) [options]

Replays a log of interactions through the model and the feed as the service serves them, holding
out each user's last positive first engagement, and reports HR@k and NDCG@k against the whole
catalogue, beside decayed popularity, item-kNN, sequential rules and EASE + sequential rules:
knowing only the past, and again as a replay, knowing every other interaction
(docs/recommendation-model.md).

Data, one of:
  --interactions FILE --events FILE   CSV: user_id,event_id,action,timestamp and event_id,category,tags,city
  --database [--since DAYS]           the configured database (DATABASE_READ_URL's replica when set):
                                      every event, and the interactions of the last DAYS days (all without it)
Options:
  --fit               fit the ranking on a validation split and write the settings
  --continue          with --fit: start from the configured settings rather than textbook priors
  --fit-only NAMES    with --fit: search only these coordinates, comma-separated (a whole fit of the
                      dev log takes hours; --help lists the names)
  --out FILE          with --fit: where to write them (default src/domain/recommendation-settings.json;
                      a deployment loads another file with RECOMMENDATION_SETTINGS_FILE)
  --k N               the cut-off (default 10)
  --negatives N       sampled negatives for the sampled metrics (default 100)
  --seed N            the sampling seed (default 42)
  --half-life-days N  the model's decay (default: the configured one)
  --item-model-every N
                      knowing the past, interactions between two fits of the item model (default
                      10000; the workers fit it every minute: fewer is closer to them, and slower)
  --replay-within-days N
                      as a replay, the log's span squeezed into N days, as a replay through the API
                      must (it takes occurredAt up to INTERACTION_MAX_AGE_DAYS old): decayed signals
                      then fade over the squeezed time (default: the log's own time); with --fit,
                      the replay half of its objective and of its test too
  --plot FILE         where to write the HR@k chart, k = 1 to 50, the feed against its baselines
                      (default eval-results/hr-at-k.svg)
  --json              the figures as JSON
  --help              this text`;

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        interactions: { type: 'string' },
        events: { type: 'string' },
        database: { type: 'boolean', default: false },
        since: { type: 'string' },
        fit: { type: 'boolean', default: false },
        continue: { type: 'boolean', default: false },
        'fit-only': { type: 'string' },
        out: { type: 'string' },
        negatives: { type: 'string', default: '100' },
        k: { type: 'string', default: '10' },
        seed: { type: 'string', default: '42' },
        'half-life-days': { type: 'string' },
        'item-model-every': { type: 'string' },
        'replay-within-days': { type: 'string' },
        json: { type: 'boolean', default: false },
        plot: { type: 'string', default: path.join('eval-results', 'hr-at-k.svg') },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    throw new Error(`${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) return void console.log(`${USAGE}\n\nCoordinates of the fit: ${COORDINATE_NAMES.join(', ')}`);
  const fromFiles = values.interactions !== undefined && values.events !== undefined;
  if (fromFiles === values.database) throw new Error(USAGE);
  const sinceDays = values.since === undefined ? undefined : Number(values.since);
  if (sinceDays !== undefined && !(sinceDays > 0)) throw new Error(`--since takes a number of days\n\n${USAGE}`);
  const itemModelEvery = values['item-model-every'] === undefined ? undefined : Number(values['item-model-every']);
  if (itemModelEvery !== undefined && !(Number.isInteger(itemModelEvery) && itemModelEvery > 0)) {
    throw new Error(`--item-model-every takes a positive whole number of interactions\n\n${USAGE}`);
  }
  const withinDays = values['replay-within-days'] === undefined ? undefined : Number(values['replay-within-days']);
  if (withinDays !== undefined && !(withinDays >= 1))
    throw new Error(`--replay-within-days takes a number of days, at least 1\n\n${USAGE}`);
  for (const file of fromFiles ? [values.interactions!, values.events!] : []) {
    if (!existsSync(file)) throw new Error(`No such file: ${file}`);
  }
  const config = loadConfigOrExit();
  const data = fromFiles ? await readEvalFiles(values.interactions!, values.events!) : await readDatabase(config, sinceDays, !values.json);
  if (data.interactions.length === 0)
    throw new Error(fromFiles ? 'No readable interactions in the file' : 'No interactions in the database');
  const halfLifeDays = values['half-life-days'] ? Number(values['half-life-days']) : config.model.halfLifeDays;
  const model = { ...config.model, halfLifeDays, epoch: middleOf(data, halfLifeDays) };
  const options = { negatives: Number(values.negatives), k: Number(values.k), seed: Number(values.seed), itemModelEvery };
  const started = Date.now();
  const source = fromFiles
    ? `--interactions ${values.interactions} --events ${values.events}`
    : `--database${sinceDays === undefined ? '' : ` --since ${sinceDays}`}`;

  if (values.fit) {
    const { cooccurrenceWindow, cooccurrenceDistanceDecay, cooccurrenceBackward } = config.model;
    const from = values.continue
      ? {
          model: { halfLifeDays, cooccurrenceWindow, cooccurrenceDistanceDecay, cooccurrenceBackward },
          feed: config.feed,
          itemModel: RECOMMENDATION_SETTINGS.itemModel,
        }
      : undefined;
    const log = values.json ? () => undefined : console.log;
    const replaySqueeze = withinDays === undefined ? undefined : squeezeFactor(timeSpan(data).first, timeSpan(data).last, withinDays);
    const only = values['fit-only']?.split(',').map((name) => name.trim());
    const fitted = await fitSettings(data, model, { ...options, from, log, replaySqueeze, only });
    const file = writeFittedSettings(
      fitted,
      `${source}${values.continue ? ' --continue' : ''}${only ? ` --fit-only ${only.join(',')}` : ''}${withinDays === undefined ? '' : ` --replay-within-days ${withinDays}`}`,
      values.out,
    );
    if (values.json) console.log(JSON.stringify(fitted, null, 2));
    else {
      console.log(`\nwrote ${file}; on the held-out interactions (test) with the fitted settings:`);
      report(fitted.test.past, data, halfLifeDays);
      reportReplay(fitted.test.replay, replaySqueeze);
      console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
    }
    return;
  }

  const result = await evaluate(data, model, config.feed, options);
  const { first, last } = timeSpan(data);
  const squeeze = withinDays === undefined ? 1 : squeezeFactor(first, last, withinDays);
  const replayData = squeezed(data, squeeze);
  const replayModel = { ...model, epoch: middleOf(replayData, halfLifeDays) };
  const replay = await evaluate(replayData, replayModel, config.feed, { ...options, shapes: false, knowing: 'replay' });
  mkdirSync(path.dirname(values.plot), { recursive: true });
  writeFileSync(values.plot, hitRateChart(`HR@k, whole catalogue: ${result.users} held-out interactions`, result.hitRateAtK));
  if (values.json) {
    const settings = {
      version: RECOMMENDATION_SETTINGS.version,
      halfLifeDays,
      ranking: config.feed.ranking,
      candidates: config.feed.candidates,
    };
    const replayed = { users: replay.users, squeeze, feed: replay.feed, baselines: replay.baselines, models: replay.models };
    console.log(
      JSON.stringify({ ...result, replay: replayed, settings, skippedLines: data.skipped.length, duplicates: data.duplicates }, null, 2),
    );
    return;
  }
  console.log(
    `interactions: ${data.interactions.length} read, ${data.skipped.length} lines skipped${data.skipped.length ? ` (first: ${data.skipped[0]})` : ''}`,
  );
  report(result, data, halfLifeDays);
  reportReplay(replay, squeeze);
  console.log(`\nHR@k for k = 1 to 50: ${values.plot}`);
  console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

/** The platform's own interactions and events, from the read replica when there is one, with a progress bar. */
async function readDatabase(config: Config, sinceDays: number | undefined, showProgress: boolean): Promise<EvalData> {
  const db = createDb({ ...config, databaseUrl: config.databaseReadUrl ?? config.databaseUrl, databasePoolMax: 1 });
  const bar = new SingleBar({ format: 'reading interactions [{bar}] {value}/{total}', stream: process.stderr }, Presets.shades_classic);
  let started = false;
  try {
    return await readEvalDatabase(db, {
      sinceDays,
      progress: (read, total) => {
        if (!showProgress) return;
        if (!started) bar.start(total, 0);
        started = true;
        bar.update(read);
      },
    });
  } finally {
    if (started) bar.stop();
    await db.destroy();
  }
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
  for (const [title, shape] of [
    ["similar events of the user's last positive event before the held-out one", result.similar],
    ["the feed filtered to the held-out event's category", result.filtered],
  ] as const) {
    if (!shape) continue;
    console.log(`\n${title}: ${shape.users} users`);
    console.log(`${'whole catalogue'.padEnd(26)}  HR@${k}    NDCG@${k}`);
    row('served', shape.served);
    for (const baseline of shape.baselines) row(baseline.name, baseline);
  }
}

/** The same held-out interactions measured knowing every other one (EvalOptions.knowing 'replay'). */
function reportReplay(result: EvalResult, squeeze = 1): void {
  const time = squeeze > 1 ? `, its time squeezed ${squeeze.toFixed(1)}×` : '';
  console.log(
    `\nas a replay: every other interaction known first, later ones of other users included (a log replayed through the API${time}; the batch split of published baselines): ${result.users} users`,
  );
  console.log(`${'whole catalogue'.padEnd(26)}  HR@${result.k}    NDCG@${result.k}`);
  for (const [name, a] of [['feed', result.feed], ...result.baselines.map((b) => [b.name, b] as const)] as const) {
    console.log(`${name.padEnd(26)}  ${a.hitRate.toFixed(4)}   ${a.ndcg.toFixed(4)}`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
