import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { JOBS } from '../src/jobs/definitions';
import { createLogger } from '../src/ops/logger';
import { processJob } from '../src/jobs/interaction-worker';
import { InteractionModel } from '../src/data/models';
import { buildEvent, interactionPayload } from './helpers/factories';
import { TestRedis } from './helpers/redis-server';
import { startStack, type Stack } from './helpers/stack';
import { waitFor } from './helpers/wait';

/** The API and the real worker on a Redis Cluster of three masters of its own. */
describe('on a Redis Cluster (REDIS_CLUSTER_NODES)', () => {
  let nodes: TestRedis[] = [];
  let stack: Stack;

  beforeAll(async () => {
    nodes = await Promise.all([0, 1, 2].map(() => TestRedis.start(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'])));
    const seeds = nodes.map((node) => `127.0.0.1:${node.port}`);
    execFileSync('redis-cli', ['--cluster', 'create', ...seeds, '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'ignore' });
    await waitFor('the cluster to be ready', async () =>
      nodes.every((node) =>
        execFileSync('redis-cli', ['-p', String(node.port), 'cluster', 'info'], { encoding: 'utf8' }).includes('cluster_state:ok'),
      ),
    );
    stack = await startStack({
      ownDatabase: true,
      env: { REDIS_CLUSTER_NODES: seeds.join(','), QUEUE_PREFIX: `{cluster-test-${randomBytes(3).toString('hex')}}` },
    });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
    await Promise.all(nodes.map((node) => node.stop()));
  });

  const token = (userId: string) => stack.token({ sub: userId });
  const firstPage = async (userId: string) => {
    expect((await stack.request('GET', '/recommendations', { token: token(userId) })).status).toBe(200);
  };
  /** Each user's first page, ranked and made ready for their next one. */
  const readFeeds = async (users: string[]) => {
    for (const user of users) await firstPage(user);
  };
  /** How many of the users' next first pages were ranked afresh (their ready ranking was stale). */
  const rankedAfresh = async (users: string[]) => {
    const before = await stack.counted('feedFirstPages', 'afresh');
    await readFeeds(users);
    return (await stack.counted('feedFirstPages', 'afresh')) - before;
  };

  test('an interaction goes through the queue on the cluster to its row', async () => {
    const event = await buildEvent(stack.db);
    const res = await stack.request('POST', '/interactions', {
      token: token(`user-${randomUUID()}`),
      body: { eventId: event.id, action: 'VIEW' },
    });
    expect(res.status).toBe(202);
    await waitFor('the row', async () => InteractionModel.query(stack.db).findById(res.body.id));

    // On the cluster's nodes: the queue's keys on one of them, feed keys on every one.
    await readFeeds(Array.from({ length: 30 }, () => `user-${randomUUID()}`));
    const prefix = stack.config.queuePrefix;
    const keysOn = (node: TestRedis, pattern: string) =>
      execFileSync('redis-cli', ['-p', String(node.port), '--scan', '--pattern', pattern], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean);
    const queueKeys = nodes.map((node) => keysOn(node, `${prefix}:*`).length);
    expect(queueKeys.filter((n) => n > 0)).toHaveLength(1);
    expect(nodes.map((node) => keysOn(node, `${prefix.replace(/[{}]/g, '')}:feed:*`).length).every((n) => n > 0)).toBe(true);
  });

  test("one transaction's users, whose rankings are on every master, all get their next first page ranked afresh", async () => {
    const event = await buildEvent(stack.db);
    const users = Array.from({ length: 12 }, () => `user-${randomUUID()}`);
    await readFeeds(users);
    expect(await rankedAfresh(users)).toBe(0); // stored, and reused
    const logger = createLogger({ level: 'silent', name: 'test' });
    const interactions = users.map((userId) => interactionPayload(userId, event.id, 'SAVE'));
    // One job, one transaction: it advances every user's version, wherever their ranking is.
    const job = { id: 'batch', name: JOBS.recordInteractions, data: stack.producer.signed(JOBS.recordInteractions, { interactions }) };
    expect(await processJob({ config: stack.config, db: stack.db, logger }, job)).toMatchObject({ inserted: users.length });

    expect(await rankedAfresh(users)).toBe(users.length);
  });

  test('a rebuild of the model makes every stored ranking stale, on every master', async () => {
    for (let i = 0; i < 3; i += 1) await buildEvent(stack.db);
    const users = Array.from({ length: 12 }, () => `user-${randomUUID()}`);
    await readFeeds(users);
    expect(await rankedAfresh(users)).toBe(0); // stored, and reused

    const jobId = `rebuild-${randomUUID()}`;
    await stack.producer.enqueue(JOBS.rebuildModel, { reason: 'test' }, { jobId });
    await waitFor('the rebuild', async () => (await (await stack.producer.queue.getJob(jobId))?.getState()) === 'completed');

    expect(await rankedAfresh(users)).toBe(users.length);
  });
});
