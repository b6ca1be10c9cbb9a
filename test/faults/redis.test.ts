import { loadConfig } from '../../src/config';
import { buildEvent } from '../helpers/factories';
import { makeUsers, type Load } from '../helpers/load';
import { expectModelToEqualRebuild } from '../helpers/model';
import { TestRedis } from '../helpers/redis-server';
import { expectRowsToBe, rowIds, startService, waitUntilDrained, type Service } from '../helpers/service';
import { sleep, waitFor } from '../helpers/wait';

/** How long Redis is away each time. */
const OUTAGE_MS = 1000;

/**
 * Redis with AOF, under steady load: a planned restart, then two power cuts (the second with the
 * worker running). Returns the moments of the power cuts.
 */
async function breakRedisUnderLoad(service: Service, redis: TestRedis, load: Load): Promise<number[]> {
  const more = async (what: string) => {
    const before = load.accepted.size;
    await waitFor(`the API to accept ${what}`, async () => load.accepted.size >= before + 800, 60_000);
  };
  const cuts: number[] = [];
  await more('interactions');
  await redis.shutdown();
  await sleep(OUTAGE_MS);
  await redis.restart();

  await more('again after a restart');
  await redis.powerCut();
  cuts.push(Date.now());
  await sleep(OUTAGE_MS);
  await redis.restart();

  await more('again after a power cut');
  await service.start('worker');
  await waitFor('the worker to write', async () => (await rowIds(service)).size > 0, 30_000);
  await redis.powerCut();
  cuts.push(Date.now());
  await sleep(OUTAGE_MS);
  await redis.restart();
  await more('again with the worker back');
  await load.stop();
  return cuts;
}

describe.each([
  ['always', true],
  ['everysec', false],
])('Redis with appendfsync %s, restarted and losing power under load', (fsync, durable) => {
  let redis: TestRedis;
  let service: Service;
  beforeAll(async () => {
    redis = await TestRedis.start(['--appendonly', 'yes', '--appendfsync', fsync], { recordSyncs: true });
    // The worker starts late, so that the queue holds everything accepted when the power goes.
    service = await startService({ redisUrl: redis.url, env: { WORKER_LOCK_MS: '2000' } });
    await service.start('web');
  });
  afterAll(async () => {
    await service?.stop();
    await redis?.stop();
  });

  test(
    durable
      ? 'the API answers 503 while Redis is away (never 500), recovers by itself, the worker resumes, and nothing acknowledged is lost'
      : 'the API answers 503 while Redis is away, recovers by itself, and loses only what was acknowledged in the second before a power cut',
    async () => {
      const events = await Promise.all(Array.from({ length: 10 }, () => buildEvent(service.db)));
      const load = service.load({ users: makeUsers(50, service.token), eventIds: events.map((e) => e.id), clients: 16 });
      const cuts = await breakRedisUnderLoad(service, redis, load);

      const { '202': ok, '503': unavailable, ...others } = load.attempts;
      expect(others).toEqual({});
      expect(ok).toBeGreaterThan(3000);
      expect(unavailable).toBeGreaterThan(0);
      expect(load.abandoned).toBe(0);

      await waitUntilDrained(service);
      expect(await service.queue.getFailedCount()).toBe(0);
      if (durable) {
        await expectRowsToBe(service, load.accepted.keys());
        console.info(`appendfsync always: ${load.accepted.size} accepted, attempts ${JSON.stringify(load.attempts)}; 0 lost, 0 doubled`);
      } else {
        // Power lost after a 202 but before Redis's next fsync (once a second, two at worst when
        // the disk lags) takes those interactions with it: that is the window of everysec.
        const rows = await rowIds(service);
        expect([...rows].filter((id) => !load.accepted.has(id))).toEqual([]);
        const lost = [...load.accepted].filter(([id]) => !rows.has(id));
        // How long before the nearest power cut the client had its 202.
        const ageAtCut = lost.map(([, { at }]) => cuts.map((cut) => cut - at).reduce((a, b) => (Math.abs(b) < Math.abs(a) ? b : a)));
        expect(ageAtCut.filter((age) => Math.abs(age) > 2500)).toEqual([]);
        console.info(
          `appendfsync everysec: ${lost.length} of ${load.accepted.size} acknowledged interactions lost over ${cuts.length} power cuts` +
            (lost.length > 0 ? `, acknowledged ${Math.min(...ageAtCut)}–${Math.max(...ageAtCut)} ms before the cut` : ''),
        );
      }
      await expectModelToEqualRebuild(service.db, loadConfig(service.env).model);
    },
    300_000,
  );
});
