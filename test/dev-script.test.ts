import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createDb, dropDatabase } from '../src/data/db';
import { GENERATED_DEMO_EVENTS } from '../src/data/demo-events';
import { sparePort } from './helpers/redis-server';
import { waitFor } from './helpers/wait';

const root = path.join(__dirname, '..');

/** `npm run dev` as a newcomer runs it, on a database and queue prefix of its own. */
describe('npm run dev', () => {
  test('creates and migrates the database, seeds a demo worth looking at, starts the API and worker, and prints a working token', async () => {
    const url = new URL(process.env.DATABASE_URL!);
    url.pathname = `${url.pathname}_dev_${randomBytes(3).toString('hex')}`;
    const port = await sparePort();
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', 'scripts/dev.ts'], {
      cwd: root,
      detached: true, // its own process group: the API and worker it starts stop with it
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'development',
        DATABASE_URL: url.toString(),
        QUEUE_PREFIX: `${process.env.QUEUE_PREFIX}-dev`,
        PORT: String(port),
        WORKER_PORT: String(await sparePort()),
        LOG_LEVEL: 'warn',
      },
    });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    const db = createDb({ databaseUrl: url.toString(), databasePoolMax: 2 });
    try {
      await waitFor('the dev banner', async () => output.includes('API and worker are running'), 120_000).catch(() => {
        throw new Error(`npm run dev did not start:\n${output.slice(-3000)}`);
      });
      const token = /export TOKEN=(\S+)/.exec(output)![1]!;
      const simulated = Number(/users' (\d+) interactions sent/.exec(output)![1]);
      expect(simulated).toBeGreaterThan(500);

      const feed = await fetch(`http://127.0.0.1:${port}/recommendations?limit=20`, { headers: { authorization: `Bearer ${token}` } });
      expect(feed.status).toBe(200);
      expect(((await feed.json()) as { items: unknown[] }).items).toHaveLength(20);
      expect(Number((await db('events').count({ n: '*' }))[0]!.n)).toBe(GENERATED_DEMO_EVENTS + 5);
      // The simulated users' histories went through the queue to the worker.
      await waitFor(
        'the demo interactions stored',
        async () => Number((await db('interactions').where('userId', 'like', 'demo-user-%').count({ n: '*' }))[0]!.n) >= simulated,
        60_000,
      );
    } finally {
      process.kill(-child.pid!, 'SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      await db.destroy();
      await dropDatabase(url.toString()).catch(() => undefined);
    }
  }, 240_000);
});
