import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../src/config';
import { parseTimestamp } from '../eval/csv';
import { parseEvalData, readEvalFiles, squeezed, timeSpan } from '../eval/data';
import { evaluate, evaluateMany, heldOutInteractions } from '../eval/evaluate';
import { fitSettings, validationSplit } from '../eval/fit';
import { generateEvalData } from '../eval/generate';
import { MemoryModelStore } from '../eval/memory-store';

const config = loadConfig({ NODE_ENV: 'test' });
const model = { ...config.model, epoch: '2026-01-01T00:00:00.000Z' };
const feed = config.feed;

describe('offline evaluation', () => {
  test('reads ISO 8601 and epoch-second timestamps, a header line, tags split on |, and skips what it cannot read', () => {
    expect(parseTimestamp('2026-03-01T10:00:00Z')).toEqual(new Date('2026-03-01T10:00:00Z'));
    expect(parseTimestamp('1772359200')).toEqual(new Date('2026-03-01T10:00:00Z'));
    expect(parseTimestamp('next week')).toBeUndefined();

    const data = parseEvalData(
      'user_id,event_id,action,timestamp\nu1,e1,view,1772359200\nu1,e2,SAVE,2026-03-02T10:00:00Z\nu1,e2,LIKE,1772359200\nu2,e1,VIEW,never\n',
      'event_id,category,tags,city\ne1,jazz,live|late-night,Berlin\n"e2","rock",,"Köln"\n',
    );
    expect(data.interactions).toEqual([
      { userId: 'u1', eventId: 'e1', action: 'VIEW', at: new Date('2026-03-01T10:00:00Z') },
      { userId: 'u1', eventId: 'e2', action: 'SAVE', at: new Date('2026-03-02T10:00:00Z') },
    ]);
    expect(data.skipped).toEqual([
      expect.stringContaining('line 4: unknown action "LIKE"'),
      expect.stringContaining('line 5: unreadable timestamp'),
    ]);
    expect(data.events.get('e1')).toMatchObject({ category: 'jazz', tags: ['live', 'late-night'], city: 'Berlin' });
    expect(data.events.get('e2')).toMatchObject({ category: 'rock', tags: [], city: 'Köln' });
  });

  test('drops exact repeats, and streams files to the same result', async () => {
    const interactions = 'u1,e1,VIEW,100\nu1,e1,VIEW,100\nu1,e2,SAVE,200\n';
    const events = 'e1,jazz,,Berlin\n';
    const parsed = parseEvalData(interactions, events);
    expect(parsed.duplicates).toBe(1);
    expect(parsed.interactions).toHaveLength(2);

    const dir = mkdtempSync(path.join(tmpdir(), 'eval-'));
    try {
      writeFileSync(path.join(dir, 'i.csv'), interactions);
      writeFileSync(path.join(dir, 'e.csv'), events);
      expect(await readEvalFiles(path.join(dir, 'i.csv'), path.join(dir, 'e.csv'))).toEqual(parsed);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the generator is seeded', () => {
    expect(generateEvalData({ users: 20, events: 30, seed: 3 })).toEqual(generateEvalData({ users: 20, events: 30, seed: 3 }));
    expect(generateEvalData({ users: 20, events: 30, seed: 3 })).not.toEqual(generateEvalData({ users: 20, events: 30, seed: 4 }));
  });

  test('on data with planted tastes, the full model and the served feed clearly beat popularity, the same way every run', async () => {
    const generated = generateEvalData({ users: 400, events: 500, seed: 11 });
    const data = parseEvalData(generated.interactionsCsv, generated.eventsCsv);

    const result = await evaluate(data, model, feed);
    const again = await evaluate(data, model, feed);

    expect(again).toEqual(result);
    expect(result.users).toBeGreaterThan(300);
    const [popularity, full] = result.models;
    expect(popularity!.name).toBe('popularity');
    expect(full!.hitRate).toBeGreaterThan(popularity!.hitRate + 0.1);
    expect(full!.ndcg).toBeGreaterThan(popularity!.ndcg + 0.05);
    const decayedPopularity = result.baselines.find((b) => b.name === 'decayed popularity')!;
    expect(result.feed.hitRate).toBeGreaterThan(decayedPopularity.hitRate);
    expect(result.coverage).toBeGreaterThan(0);
    expect(result.cold.users).toBeLessThan(result.users);
  });

  test('settings measured together give what each gives alone; smaller candidate sources find the held-out event less often', async () => {
    const generated = generateEvalData({ users: 200, events: 300, seed: 7 });
    const data = parseEvalData(generated.interactionsCsv, generated.eventsCsv);
    const small = { ...feed, candidates: { ...feed.candidates, collaborative: 5, byFeature: 5, popular: 5, viewed: 5 } };

    const [full, smaller] = await evaluateMany(data, model, [feed, small]);

    expect(full).toEqual(await evaluate(data, model, feed));
    expect(smaller).toEqual(await evaluate(data, model, small));
    expect(smaller!.meanCandidates).toBeLessThan(full!.meanCandidates);
    expect(smaller!.feed.candidateRecall).toBeLessThan(full!.feed.candidateRecall);
  });

  test('as a replay, the model knows what other users did later; knowing the past, it does not', async () => {
    // u1's held-out step a → b is one u2 and u3 take only later.
    const interactions = [
      'u1,x,SAVE,100',
      'u1,a,SAVE,110',
      'u1,b,SAVE,120',
      'u2,a,SAVE,500',
      'u2,b,SAVE,510',
      'u2,z,SAVE,520',
      'u3,a,SAVE,600',
      'u3,b,SAVE,610',
      'u3,y,SAVE,620',
    ].join('\n');
    const fillers = Array.from({ length: 10 }, (_, i) => `f${i},,,`).join('\n');
    const data = parseEvalData(interactions, fillers);
    const options = { negatives: 3 };

    const past = await evaluate(data, model, feed, options);
    const replay = await evaluate(data, model, feed, { ...options, knowing: 'replay' });

    expect([past.users, replay.users]).toEqual([3, 3]);
    expect(past.feed.hitRate).toBe(0);
    // u1's b, found from u2's and u3's steps; z and y no one else took.
    expect(replay.feed.hitRate).toBeCloseTo(1 / 3, 6);
    expect(replay.feed.ndcg).toBeCloseTo(1 / 3, 6);
  });

  test('the item model is fitted once as a replay, and knowing the past every `itemModelEvery` interactions learnt', async () => {
    const generated = generateEvalData({ users: 40, events: 60, seed: 3 });
    const data = parseEvalData(generated.interactionsCsv, generated.eventsCsv);
    const fits = jest.spyOn(MemoryModelStore.prototype, 'fitItemModel');
    try {
      const run = async (options: Parameters<typeof evaluate>[3]) => {
        fits.mockClear();
        await evaluate(data, model, feed, { negatives: 5, shapes: false, ...options });
        return fits.mock.calls.length;
      };
      expect(await run({ knowing: 'replay', itemModelEvery: 10 })).toBe(1);
      expect(await run({ itemModelEvery: 1_000_000 })).toBe(1);
      const learnt = data.interactions.length - 40; // at most one held out per user
      expect(await run({ itemModelEvery: 100 })).toBeGreaterThanOrEqual(Math.floor(learnt / 100) - 1);
    } finally {
      fits.mockRestore();
    }
  });

  test('npm run eval prints the served feed, the baselines and the sampled models, and --json the fields other tools read', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'eval-'));
    try {
      const generated = generateEvalData({ users: 150, events: 200, seed: 5 });
      writeFileSync(path.join(dir, 'interactions.csv'), generated.interactionsCsv);
      writeFileSync(path.join(dir, 'events.csv'), generated.eventsCsv);
      const root = path.join(__dirname, '..');
      const evalOf = (interactions: string) => [
        'run',
        '--silent',
        'eval',
        '--',
        '--interactions',
        path.join(dir, interactions),
        '--events',
        path.join(dir, 'events.csv'),
      ];
      const args = [...evalOf('interactions.csv'), '--plot', path.join(dir, 'plot.svg')];
      const { stdout } = await promisify(execFile)('npm', args, { cwd: root });
      expect(stdout).toMatch(/whole catalogue\s+HR@10\s+NDCG@10/);
      for (const name of [
        'feed',
        'decayed popularity',
        'item-kNN',
        'sequential rules',
        'EASE \\+ sequential rules',
        'popularity',
        'full',
      ]) {
        expect(stdout).toMatch(new RegExp(`^${name}\\s+0\\.\\d{4}\\s+0\\.\\d{4}$`, 'm'));
      }
      expect(stdout).toMatch(/held-out event in the top 50 \d+\.\d %, among the candidates \d+\.\d %/);
      expect(stdout).toMatch(/coverage: \d+\.\d % of the catalogue/);
      for (const shape of ["similar events of the user's last positive event", "the feed filtered to the held-out event's category"]) {
        expect(stdout).toContain(shape);
      }
      expect(stdout).toMatch(/^served\s+0\.\d{4}\s+0\.\d{4}$/m);
      expect(stdout).toMatch(/^item-to-item\s+0\.\d{4}\s+0\.\d{4}$/m);
      expect(stdout).toContain('as a replay: every other interaction known first');
      // The chart beside the table: a line for the feed and each baseline over k = 1 to 50.
      const svg = readFileSync(path.join(dir, 'plot.svg'), 'utf8');
      expect(svg.match(/<polyline [^>]*points="([^"]+)"/g)).toHaveLength(5);
      expect(/<polyline [^>]*points="([^"]+)"/.exec(svg)![1]!.split(' ')).toHaveLength(50);
      for (const name of ['feed', 'decayed popularity', 'item-kNN', 'sequential rules', 'EASE + sequential rules']) {
        expect(svg).toContain(`${name} (HR@10 `);
      }

      const json = JSON.parse((await promisify(execFile)('npm', [...args, '--json'], { cwd: root })).stdout);
      expect(json.models.map((m: { name: string }) => m.name)).toEqual(['popularity', 'full']);
      expect(json.hitRateAtK.feed).toHaveLength(50);
      expect(json.similar.served).toEqual(expect.objectContaining({ hitRate: expect.any(Number) }));
      expect(json.replay.feed).toEqual(expect.objectContaining({ hitRate: expect.any(Number), ndcg: expect.any(Number) }));
      for (const entry of [...json.models, json.feed]) {
        expect(entry).toEqual(expect.objectContaining({ hitRate: expect.any(Number), ndcg: expect.any(Number) }));
      }
      expect(json.replay.squeeze).toBe(1);
      // As a replay through the API would have it: the log's span squeezed into a day.
      const squeezedRun = (await promisify(execFile)('npm', [...args, '--replay-within-days', '1'], { cwd: root })).stdout;
      const { first, last } = timeSpan(parseEvalData(generated.interactionsCsv, generated.eventsCsv));
      const days = (last.getTime() - first.getTime()) / 86_400_000;
      expect(days).toBeGreaterThan(2);
      expect(squeezedRun).toContain(`its time squeezed ${(days / 0.9).toFixed(1)}×`);

      // Options are checked before anything is read.
      await expect(promisify(execFile)('npm', [...args, '--item-model-every', '0'], { cwd: root })).rejects.toMatchObject({
        stderr: expect.stringContaining('--item-model-every takes a positive whole number'),
      });
      await expect(promisify(execFile)('npm', [...args, '--replay-within-days', '0'], { cwd: root })).rejects.toMatchObject({
        stderr: expect.stringContaining('--replay-within-days takes a number of days'),
      });
      await expect(promisify(execFile)('npm', evalOf('none.csv'), { cwd: root })).rejects.toMatchObject({
        stderr: expect.stringContaining(`No such file: ${path.join(dir, 'none.csv')}`),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('fitting the ranking', () => {
  test('learns from a validation split that holds none of the interactions the evaluation holds out', async () => {
    const generated = generateEvalData({ users: 200, events: 300, seed: 3 });
    const data = parseEvalData(generated.interactionsCsv, generated.eventsCsv);
    const ordered = [...data.interactions].sort((a, b) => a.at.getTime() - b.at.getTime());
    const heldOut = heldOutInteractions(ordered);

    const split = validationSplit(data);

    expect(heldOut.size).toBeGreaterThan(150);
    const heldOutAt = new Map([...heldOut].map((i) => [i.userId, i.at.getTime()]));
    for (const interaction of split.interactions) {
      expect(heldOut.has(interaction)).toBe(false);
      expect(interaction.at.getTime()).toBeLessThan(heldOutAt.get(interaction.userId) ?? Infinity);
    }
    expect(split.interactions.length).toBeGreaterThan(data.interactions.length / 2);
  });

  test('measures what it fitted on the held-out interactions, its replay squeezed as asked (--replay-within-days)', async () => {
    const generated = generateEvalData({ users: 60, events: 40, seed: 3 });
    const data = parseEvalData(generated.interactionsCsv, generated.eventsCsv);
    const options = { negatives: 10 };
    const fitted = await fitSettings(data, model, { ...options, replaySqueeze: 50 });
    const fittedModel = { ...model, ...fitted.settings.model };
    const fittedFeed = { ranking: fitted.settings.ranking, candidates: fitted.settings.candidates };
    const measure = (d: typeof data, knowing: 'past' | 'replay') => evaluate(d, fittedModel, fittedFeed, { ...options, knowing });
    expect(fitted.test.past).toEqual(await measure(data, 'past'));
    expect(fitted.test.replay).toEqual(await measure(squeezed(data, 50), 'replay'));
    expect(fitted.test.replay).not.toEqual(await measure(data, 'replay'));
    // The objective's replay half too: the validation split squeezed (each user's last 5 positives measured).
    const [validated] = await evaluateMany(squeezed(validationSplit(data), 50), fittedModel, [fittedFeed], {
      ...options,
      points: 5,
      shapes: false,
      knowing: 'replay',
    });
    expect(fitted.validation.after.replay).toEqual(validated);
  }, 120_000);

  test('--fit-only searches the coordinates named, a pair of settings together, and refuses a name it does not know', async () => {
    const generated = generateEvalData({ users: 60, events: 40, seed: 3 });
    const data = parseEvalData(generated.interactionsCsv, generated.eventsCsv);
    const lines: string[] = [];
    const pair = 'priorShrinkage+recencyDecay';
    const { halfLifeDays, cooccurrenceWindow, cooccurrenceDistanceDecay, cooccurrenceBackward } = model;
    const { refitMs: _refit, ...itemModel } = config.itemModel;
    const from = { model: { halfLifeDays, cooccurrenceWindow, cooccurrenceDistanceDecay, cooccurrenceBackward }, feed, itemModel };
    const fitted = await fitSettings(data, model, { negatives: 10, only: [pair], from, log: (line) => lines.push(line) });
    const searched = lines.filter((line) => line.startsWith('round '));
    // One coordinate, each of its 16 pairs measured once; nothing else moved.
    expect(searched).toEqual([expect.stringMatching(new RegExp(`^round 1 priorShrinkage\\+recencyDecay: \\(0, 0\\.5\\)→`))]);
    expect(searched[0]!.split('→')).toHaveLength(17);
    expect(fitted.moves.every((m) => m.coordinate === pair)).toBe(true);
    const { priorShrinkage: _p, recencyDecay: _r, ...others } = fitted.settings.ranking;
    const { priorShrinkage: _pf, recencyDecay: _rf, ...othersBefore } = feed.ranking;
    expect(others).toEqual(othersBefore);
    expect(fitted.settings.model).toEqual(from.model);
    expect(fitted.settings.itemModel).toEqual(itemModel);
    await expect(fitSettings(data, model, { only: ['nope'] })).rejects.toThrow(/No such coordinate: nope/);
  }, 120_000);

  test("the item model's λ is a coordinate: each value measured with the item model fitted with it", async () => {
    const generated = generateEvalData({ users: 60, events: 40, seed: 3 });
    const data = parseEvalData(generated.interactionsCsv, generated.eventsCsv);
    const { refitMs: _refit, ...itemModel } = config.itemModel;
    const { halfLifeDays, cooccurrenceWindow, cooccurrenceDistanceDecay, cooccurrenceBackward } = model;
    const from = { model: { halfLifeDays, cooccurrenceWindow, cooccurrenceDistanceDecay, cooccurrenceBackward }, feed, itemModel };
    const fits = jest.spyOn(MemoryModelStore.prototype, 'fitItemModel');
    try {
      const fitted = await fitSettings(data, model, { negatives: 10, only: ['itemModel.lambda'], from });
      const lambdas = new Set(fits.mock.calls.map(([settings]) => settings.lambda));
      expect([...lambdas].sort((a, b) => a - b)).toEqual([25, 50, 100, 200, 400]);
      expect(fitted.settings.itemModel).toEqual({ ...itemModel, lambda: expect.any(Number) });
      expect(lambdas.has(fitted.settings.itemModel.lambda)).toBe(true);
    } finally {
      fits.mockRestore();
    }
  }, 120_000);

  test('holds out first engagements only: an event the user already touched is no discovery', () => {
    const data = parseEvalData('u1,a,VIEW,100\nu1,b,SAVE,200\nu1,a,SAVE,300\nu2,a,SAVE,100\n', '');
    expect([...heldOutInteractions(data.interactions)].map((i) => [i.userId, i.eventId, i.action])).toEqual([['u1', 'b', 'SAVE']]);
  });
});
