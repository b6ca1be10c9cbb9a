import { Redis } from 'ioredis';
import { loadConfig } from '../src/config';
import { dropDatabase } from '../src/data/db';

export default async function globalTeardown(): Promise<void> {
  const config = loadConfig();
  if (process.env.KEEP_TEST_DB !== '1') await dropDatabase(config.databaseUrl);
  const redis = new Redis(config.redisUrl);
  try {
    // Also the hash-tagged prefixes ("{test-…}") of the Redis Cluster test.
    for (const pattern of [`${config.queuePrefix}*`, `{${config.queuePrefix}*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
}
