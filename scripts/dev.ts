// `npm run dev`: everything a newcomer needs on one machine. Checks PostgreSQL and Redis, creates
// and migrates the database, loads demo events, starts the API and the worker, prints a token.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createDb, ensureDatabase, migrateLatest } from '../src/data/db';
import { seeded, seedDemoEvents, type DemoEvent } from '../src/data/demo-events';
import type { Config } from '../src/config';
import { loadConfigOrExit } from '../src/ops/lifecycle';
import { checkPostgres, checkRedis } from './preflight';
import { signToken } from './token';

process.env.NODE_ENV ??= 'development';
// The queue dashboard needs a login; make one for this session unless one is configured.
if (!process.env.ADMIN_USERNAME && !process.env.ADMIN_PASSWORD) {
  process.env.ADMIN_USERNAME = 'admin';
  process.env.ADMIN_PASSWORD = randomBytes(12).toString('base64url');
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const problems = (await Promise.all([checkPostgres(config.databaseUrl), checkRedis(config.redisUrl)])).filter(Boolean);
  if (problems.length > 0) {
    console.error(`Cannot start:\n${problems.map((p) => `- ${p}`).join('\n')}`);
    process.exit(1);
  }

  await ensureDatabase(config.databaseUrl);
  const db = createDb(config);
  const events = await migrateLatest(db)
    .then(() => seedDemoEvents(db))
    .finally(() => db.destroy());

  const children = [start('web', 'src/server.ts'), start('worker', 'workers/index.ts')];
  const stop = () => children.forEach((child) => child.kill('SIGTERM'));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  await waitForReady(`http://127.0.0.1:${config.port}/readyz`);
  const token = signToken(config, { sub: 'dev-user', roles: ['organizer'] });
  const base = `http://127.0.0.1:${config.port}`;
  const simulated = await simulateDemoUsers(base, config, events);
  console.log(`
──────────────────────────────────────────────────────────────────────────────
 API and worker are running on ${base}   (Ctrl-C stops both)
 Demo: ${events.length} events; ${DEMO_USERS} simulated users' ${simulated} interactions sent through the API and the queue

 Dev token (sub "dev-user", roles ["organizer"], valid 7 days):
   export TOKEN=${token}

 Record a VIEW of a demo event ("${events[0]!.title}"):
   curl -i -X POST ${base}/interactions \\
     -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
     -d '{"eventId":"${events[0]!.id}","action":"VIEW"}'

 Queue dashboard: ${base}/admin/queues   (user ${config.admin?.username}, password ${config.admin?.password})
 Feed dashboard:  ${base}/admin/feed    (the same login)
 API docs:        ${base}/docs

 Then see the row and the score:
   psql ${config.databaseUrl} -c 'select * from interactions order by created_at desc limit 5' -c 'select * from user_event_scores'
──────────────────────────────────────────────────────────────────────────────
`);
}

const DEMO_USERS = 60;

/**
 * Demo users with a taste (a category, mostly in one city), whose histories go through the API and
 * the queue as any client's would, so the feed, similar events and the operators' pages show
 * something. Their idempotency keys are fixed: starting again records nothing twice.
 */
async function simulateDemoUsers(base: string, config: Config, events: DemoEvent[]): Promise<number> {
  const random = seeded(7);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  const categories = [...new Set(events.map((e) => e.category))];
  const cities = [...new Set(events.map((e) => e.city))];
  let sent = 0;
  for (let u = 1; u <= DEMO_USERS; u += 1) {
    const [taste, home] = [pick(categories), pick(cities)];
    const liked = events.filter((e) => e.category === taste);
    const likedAtHome = liked.filter((e) => e.city === home);
    const count = 8 + Math.floor(random() * 25);
    const interactions = Array.from({ length: count }, (_, n) => {
      const roll = random();
      const event = roll < 0.5 && likedAtHome.length ? pick(likedAtHome) : roll < 0.85 ? pick(liked) : pick(events);
      const positive = random() < 0.6 ? 'VIEW' : random() < 0.5 ? 'CLICK' : event.kind === 'gig' ? 'APPLY' : 'SAVE';
      const action = event.category !== taste && random() < 0.3 ? 'DISMISS' : positive;
      const occurredAt = new Date(Date.now() - (count - n) * 3_600_000).toISOString();
      return { eventId: event.id, action, occurredAt, idempotencyKey: `demo-${u}-${n}` };
    });
    const res = await fetch(`${base}/interactions/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${signToken(config, { sub: `demo-user-${u}`, roles: [] })}`, 'content-type': 'application/json' },
      body: JSON.stringify({ interactions }),
    });
    if (res.ok) sent += interactions.length;
  }
  return sent;
}

function start(name: string, entry: string): ChildProcess {
  const tsx = path.join(__dirname, '..', 'node_modules', '.bin', 'tsx');
  const child = spawn(tsx, [path.join(__dirname, '..', entry)], { stdio: 'inherit', env: process.env });
  child.on('exit', (code, signal) => {
    if (signal !== 'SIGTERM' && code !== 0) {
      console.error(`${name} exited (${signal ?? code}); stopping`);
      process.exit(1);
    }
  });
  return child;
}

async function waitForReady(url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const ok = await fetch(url).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`The API did not become ready at ${url} within 30 s`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
