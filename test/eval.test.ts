import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { FEED_LIMITS } from '../src/domain/ranking';
import { loadConfig } from '../src/config';
import { parseTimestamp } from '../src/eval/csv';
import { evaluate, parseEvalData, readEvalFiles, scaledFeedLimits } from '../src/eval/evaluate';
import { generateEvalData } from '../src/eval/generate';

const settings = { ...loadConfig({ NODE_ENV: 'test' }).model, epoch: '2026-01-01T00:00:00.000Z' };

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

  test('on data with planted tastes, the full model clearly beats popularity, the same way every run', async () => {
    const generated = generateEvalData({ users: 400, events: 500, seed: 11 });
    const data = parseEvalData(generated.interactionsCsv, generated.eventsCsv);

    const result = await evaluate(data, settings);
    const again = await evaluate(data, settings);

    expect(again).toEqual(result);
    expect(result.users).toBeGreaterThan(300);
    const [popularity, full] = result.models;
    expect(popularity!.name).toBe('popularity');
    expect(full!.hitRate).toBeGreaterThan(popularity!.hitRate + 0.15);
    expect(full!.ndcg).toBeGreaterThan(popularity!.ndcg + 0.1);
  });

  test('against the whole feed: the held-out event is mostly among the candidates, and fewer candidates find it less often', async () => {
    const generated = generateEvalData({ users: 400, events: 500, seed: 11 });
    const data = parseEvalData(generated.interactionsCsv, generated.eventsCsv);
    const quarter = scaledFeedLimits(0.25);

    const full = (await evaluate(data, settings)).feed;
    const small = (await evaluate(data, settings, { feedLimits: quarter })).feed;

    expect(full.limits).toEqual(FEED_LIMITS);
    expect(full.recall).toBeGreaterThan(0.6);
    expect(full.hitRate).toBeGreaterThan(0.2); // in the top 10 of a few hundred candidates
    expect(small.meanCandidates).toBeLessThan(full.meanCandidates * 0.6);
    expect(small.recall).toBeLessThan(full.recall);
  });

  test('npm run eval prints HR@10 and NDCG@10 for both models', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'eval-'));
    try {
      const generated = generateEvalData({ users: 150, events: 200, seed: 5 });
      writeFileSync(path.join(dir, 'interactions.csv'), generated.interactionsCsv);
      writeFileSync(path.join(dir, 'events.csv'), generated.eventsCsv);
      const root = path.join(__dirname, '..');
      const { stdout } = await promisify(execFile)(
        'npm',
        ['run', '--silent', 'eval', '--', '--interactions', path.join(dir, 'interactions.csv'), '--events', path.join(dir, 'events.csv')],
        { cwd: root },
      );
      expect(stdout).toMatch(/model\s+HR@10\s+NDCG@10/);
      expect(stdout).toMatch(/^popularity\s+0\.\d{4}\s+0\.\d{4}$/m);
      expect(stdout).toMatch(/^full\s+0\.\d{4}\s+0\.\d{4}$/m);
      expect(stdout).toMatch(/^feed\s+0\.\d{4}\s+0\.\d{4}$/m);
      expect(stdout).toMatch(/\d+ candidates on average; among them \d+\.\d %/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
