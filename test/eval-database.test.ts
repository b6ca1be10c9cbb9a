import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { v7 as uuidv7 } from 'uuid';
import { parseEvalData, timeSpan, type EvalData } from '../eval/data';
import { evaluate } from '../eval/evaluate';
import { generateEvalData } from '../eval/generate';
import { buildEvent } from './helpers/factories';
import { startStack, type Stack } from './helpers/stack';

const root = path.join(__dirname, '..');
const runEval = (stack: Stack, args: string[]) =>
  spawnSync(process.execPath, ['--require', 'tsx/cjs', 'scripts/eval.ts', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH, NODE_ENV: 'test', DATABASE_URL: stack.config.databaseUrl, JWT_SECRET: stack.config.jwt.secret },
    encoding: 'utf8',
  });

describe('npm run eval -- --database', () => {
  let stack: Stack;
  let data: EvalData;
  beforeAll(async () => {
    stack = await startStack({ worker: false, ownDatabase: true });
    // A generated log, stored as the service stores one: events with UUIDs, append-only interactions.
    const generated = parseEvalData(...(Object.values(generateEvalData({ users: 80, events: 40, seed: 11 })) as [string, string]));
    const ids = new Map<string, string>();
    for (const [id, features] of generated.events) {
      ids.set(id, (await buildEvent(stack.db, { category: features.category, tags: features.tags, city: features.city })).id);
    }
    data = {
      ...generated,
      interactions: generated.interactions.map((i) => ({ ...i, eventId: ids.get(i.eventId)! })),
      events: new Map([...generated.events].map(([id, features]) => [ids.get(id)!, features])),
    };
    await stack.db('interactions').insert(
      data.interactions.map((i) => ({
        id: uuidv7(),
        userId: i.userId,
        eventId: i.eventId,
        action: i.action,
        source: 'api',
        createdAt: i.at,
        occurredAt: i.at,
      })),
    );
  });
  afterAll(() => stack.stop());

  test("replays the platform's own interactions and events as it replays the same log from CSV", async () => {
    // Few negatives: the catalogue is small.
    const run = runEval(stack, ['--database', '--json', '--negatives', '20']);
    expect(run.status).toBe(0);
    const fromDatabase = JSON.parse(run.stdout);

    const { first, last } = timeSpan(data);
    const epoch = new Date((first.getTime() + last.getTime()) / 2).toISOString();
    const expected = await evaluate(data, { ...stack.config.model, epoch }, stack.config.feed, { negatives: 20, k: 10, seed: 42 });
    expect(fromDatabase.users).toBeGreaterThan(20);
    expect({ users: fromDatabase.users, feed: fromDatabase.feed, baselines: fromDatabase.baselines }).toEqual(
      JSON.parse(JSON.stringify({ users: expected.users, feed: expected.feed, baselines: expected.baselines })),
    );
  }, 60_000);

  test('--since keeps the recent interactions only, and says so when there are none', () => {
    const run = runEval(stack, ['--database', '--since', '1']); // the generated log is from January 2026
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/No interactions in the database/);
  });

  test('--help explains the data sources; a wrong call gets the usage', () => {
    const help = runEval(stack, ['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--database \[--since DAYS\]/);
    const wrong = runEval(stack, ['--database', '--interactions', 'x.csv', '--events', 'y.csv']);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/^usage: npm run eval/);
  });
});
