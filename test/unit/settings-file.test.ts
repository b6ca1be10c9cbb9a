import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');
const shipped = JSON.parse(readFileSync(path.join(root, 'src', 'domain', 'recommendation-settings.json'), 'utf8'));

/** What a process started with RECOMMENDATION_SETTINGS_FILE makes of its settings. */
const settingsWith = (file: string) =>
  spawnSync(
    process.execPath,
    [
      '--require',
      'tsx/cjs',
      '-e',
      "const { loadConfig } = require('./src/config'); const c = loadConfig({ NODE_ENV: 'development' }); console.log(JSON.stringify({ ranking: c.feed.ranking, halfLifeDays: c.model.halfLifeDays }))",
    ],
    { cwd: root, env: { PATH: process.env.PATH, RECOMMENDATION_SETTINGS_FILE: file }, encoding: 'utf8' },
  );

describe('RECOMMENDATION_SETTINGS_FILE', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'settings-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('replaces the shipped settings, the model’s and the ranking’s', () => {
    const file = path.join(dir, 'fitted.json');
    writeFileSync(
      file,
      JSON.stringify({ ...shipped, model: { ...shipped.model, halfLifeDays: 12 }, ranking: { ...shipped.ranking, recencyDecay: 1.25 } }),
    );
    const run = settingsWith(file);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ ranking: { ...shipped.ranking, recencyDecay: 1.25 }, halfLifeDays: 12 });
  });

  test('a file that is missing or not settings stops the process with its name and why', () => {
    expect(settingsWith(path.join(dir, 'missing.json')).stderr).toMatch(
      /RECOMMENDATION_SETTINGS_FILE .*missing\.json cannot be used: ENOENT/,
    );
    const wrong = path.join(dir, 'wrong.json');
    writeFileSync(wrong, JSON.stringify({ ...shipped, ranking: { ...shipped.ranking, recencyDecay: 'fast' } }));
    expect(settingsWith(wrong).stderr).toMatch(/wrong\.json cannot be used: .*recencyDecay/s);
  });
});
