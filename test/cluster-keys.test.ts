import { randomBytes, randomUUID } from 'node:crypto';
import { buildEvent } from './helpers/factories';
import { waitForInteractions } from './helpers/db';
import { startStack, type Stack } from './helpers/stack';

/** The Redis Cluster slot of a key: CRC16 (XMODEM) of its hash tag, or of the whole key, mod 16384. */
function calculateSlot(key: string): number {
  const open = key.indexOf('{');
  const close = open === -1 ? -1 : key.indexOf('}', open + 1);
  const hashed = close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of Buffer.from(hashed)) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

// Redis Cluster runs a Lua script only on keys of one slot: every key of the queue must hash alike.
describe('with a hash-tagged queue prefix (Redis Cluster)', () => {
  const prefix = `{${process.env.QUEUE_PREFIX}-${randomBytes(4).toString('hex')}}`;
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ ownDatabase: true, env: { QUEUE_PREFIX: prefix } });
  });
  afterAll(() => stack.stop());

  test("the queue's keys share one slot, and the feed's keys spread over many", async () => {
    const events = await Promise.all(Array.from({ length: 3 }, () => buildEvent(stack.db)));
    const users = Array.from({ length: 8 }, () => `user-${randomUUID()}`);
    for (const userId of users) {
      const token = stack.token({ sub: userId });
      expect((await stack.request('POST', '/interactions', { token, body: { eventId: events[0]!.id, action: 'DISMISS' } })).status).toBe(
        202,
      );
      expect((await stack.request('GET', '/recommendations?limit=1', { token })).status).toBe(200);
    }
    await waitForInteractions(stack.db, users.at(-1)!, 1);

    const base = prefix.replace(/[{}]/g, '');
    const queueKeys = await stack.producer.connection.keys(`${prefix}:*`);
    const feedKeys = [
      ...(await stack.producer.connection.keys(`${base}:feed:*`)),
      ...(await stack.producer.connection.keys(`${base}:hidden:*`)),
    ];
    expect(queueKeys.length).toBeGreaterThan(3);
    expect(new Set(queueKeys.map((key) => calculateSlot(key))).size).toBe(1);
    expect(feedKeys.length).toBeGreaterThanOrEqual(users.length);
    expect(new Set(feedKeys.map((key) => calculateSlot(key))).size).toBeGreaterThan(4);
    expect(calculateSlot('123456789')).toBe(0x31c3 % 16384); // the CRC16 check value of the Redis Cluster spec
  });
});
