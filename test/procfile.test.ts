import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { loadConfig } from '../src/config';
import { createDb, dropDatabase, type Db } from '../src/data/db';
import { InteractionModel } from '../src/data/models';
import { sparePort } from './helpers/redis-server';
import { waitFor } from './helpers/wait';

const root = path.join(__dirname, '..');
const procfile = Object.fromEntries(
  readFileSync(path.join(root, 'Procfile'), 'utf8')
    .split('\n')
    .filter((line) => line.includes(':'))
    .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]),
);

/**
 * The Procfile's processes, built as a deployment builds them, each given only the documented
 * environment: release creates and migrates a database that does not exist yet, then web and
 * worker carry an interaction from the API to a row.
 */
describe('the Procfile processes, after npm run build', () => {
  const base = loadConfig();
  const dbUrl = new URL(base.databaseUrl);
  dbUrl.pathname = `${dbUrl.pathname}_procfile_${randomBytes(3).toString('hex')}`;
  let port: number;
  let env: NodeJS.ProcessEnv;
  const children: ChildProcess[] = [];
  let db: Db;

  const run = (name: string) => {
    const child = spawn('sh', ['-c', `exec ${procfile[name]!}`], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    children.push(child);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, exited, output: () => output };
  };

  beforeAll(async () => {
    execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'pipe' });
    port = await sparePort();
    env = {
      PATH: process.env.PATH,
      PORT: String(port),
      WORKER_PORT: String(await sparePort()),
      DATABASE_URL: dbUrl.toString(),
      REDIS_URL: base.redisUrl,
      JWT_SECRET: 'procfile-test-secret',
      QUEUE_PREFIX: `${base.queuePrefix}-procfile`,
      LOG_LEVEL: 'warn',
    };
  }, 120_000);

  afterAll(async () => {
    children.forEach((child) => child.exitCode === null && child.kill('SIGKILL'));
    await db?.destroy();
    await dropDatabase(dbUrl.toString());
  });

  test('declares release, web and worker', () => {
    expect(Object.keys(procfile).sort()).toEqual(['release', 'web', 'worker']);
  });

  test('release creates the database and migrates it, and is safe to run again', async () => {
    const first = run('release');
    expect(await first.exited).toBe(0);
    expect(first.output()).toMatch(/Applied migrations/);
    const second = run('release');
    expect(await second.exited).toBe(0);
    expect(second.output()).toMatch(/up to date/);
  });

  test('web and worker take an interaction from the API to a row, and stop cleanly on SIGTERM', async () => {
    db = createDb({ databaseUrl: dbUrl.toString(), databasePoolMax: 2 });
    const web = run('web');
    const worker = run('worker');
    await waitFor(
      'the web process to answer',
      () =>
        fetch(`http://127.0.0.1:${port}/readyz`).then(
          (r) => r.ok,
          () => false,
        ),
      20_000,
    );

    const organizer = jwt.sign({ sub: 'org-1', roles: ['organizer'] }, env.JWT_SECRET!, { expiresIn: '5m' });
    const event = await fetch(`http://127.0.0.1:${port}/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${organizer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Procfile gig', startsAt: '2031-01-01T20:00:00Z', kind: 'gig' }),
    }).then((r) => r.json() as Promise<{ id: string }>);
    const userId = `user-${randomUUID()}`;
    const token = jwt.sign({ sub: userId }, env.JWT_SECRET!, { expiresIn: '5m' });
    const res = await fetch(`http://127.0.0.1:${port}/interactions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ eventId: event.id, action: 'APPLY' }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };

    const row = await waitFor('the row', async () => InteractionModel.query(db).findById(id), 20_000);
    expect(row).toMatchObject({ userId, eventId: event.id, action: 'APPLY', source: 'api' });

    web.child.kill('SIGTERM');
    worker.child.kill('SIGTERM');
    expect(await web.exited).toBe(0);
    expect(await worker.exited).toBe(0);
  }, 60_000);

  test('without JWT_SECRET in production, web refuses to start and says why', async () => {
    const { JWT_SECRET: _omitted, ...rest } = env;
    const child = spawn('sh', ['-c', `exec ${procfile.web!}`], { cwd: root, env: rest, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toMatch(/JWT_SECRET is required/);
  });
});
