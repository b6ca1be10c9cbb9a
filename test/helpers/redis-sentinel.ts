import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { sparePort, TestRedis } from './redis-server';
import { waitFor } from './wait';

/**
 * A Redis primary, replicas of it and one sentinel watching them (quorum 1, a primary is down after
 * 1 s), each its own process on a spare port, for failover tests.
 */
export class TestSentinelGroup {
  private constructor(
    readonly servers: TestRedis[],
    private readonly sentinel: ChildProcess,
    readonly sentinelPort: number,
    private readonly dir: string,
  ) {}

  static readonly NAME = 'interactions-primary';

  static async start(replicas: number): Promise<TestSentinelGroup> {
    const durable = ['--appendonly', 'yes', '--appendfsync', 'always'];
    const primary = await TestRedis.start(durable);
    const servers = [primary];
    for (let i = 0; i < replicas; i += 1) {
      servers.push(await TestRedis.start([...durable, '--replicaof', '127.0.0.1', String(primary.port)]));
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'test-sentinel-'));
    const sentinelPort = await sparePort();
    const conf = path.join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${sentinelPort}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${TestSentinelGroup.NAME} 127.0.0.1 ${primary.port} 1`,
        `sentinel down-after-milliseconds ${TestSentinelGroup.NAME} 1000`,
        `sentinel failover-timeout ${TestSentinelGroup.NAME} 5000`,
        `sentinel parallel-syncs ${TestSentinelGroup.NAME} ${replicas}`,
      ].join('\n'),
    );
    const sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
    const group = new TestSentinelGroup(servers, sentinel, sentinelPort, dir);
    await waitFor('the replicas to be in sync', async () => (await group.syncedReplicas(primary)) === replicas);
    await waitFor('the sentinel to know the replicas', async () => (await group.sentinelReplicas()) === replicas);
    return group;
  }

  get env(): Record<string, string> {
    return { REDIS_SENTINELS: `127.0.0.1:${this.sentinelPort}`, REDIS_SENTINEL_NAME: TestSentinelGroup.NAME };
  }

  /** The port of the server the sentinel names primary now. */
  async primaryPort(): Promise<number> {
    const sentinel = new Redis(this.sentinelPort, '127.0.0.1', { lazyConnect: true });
    try {
      const [, port] = (await sentinel.call('SENTINEL', 'get-master-addr-by-name', TestSentinelGroup.NAME)) as [string, string];
      return Number(port);
    } finally {
      sentinel.disconnect();
    }
  }

  private async sentinelReplicas(): Promise<number> {
    const sentinel = new Redis(this.sentinelPort, '127.0.0.1', { lazyConnect: true });
    try {
      return ((await sentinel.call('SENTINEL', 'replicas', TestSentinelGroup.NAME)) as unknown[]).length;
    } catch {
      return -1;
    } finally {
      sentinel.disconnect();
    }
  }

  private async syncedReplicas(primary: TestRedis): Promise<number> {
    const client = new Redis(primary.port, '127.0.0.1', { lazyConnect: true });
    try {
      return Number(/connected_slaves:(\d+)/.exec(await client.info('replication'))?.[1] ?? 0);
    } finally {
      client.disconnect();
    }
  }

  async stop(): Promise<void> {
    this.sentinel.kill('SIGKILL');
    await Promise.all(this.servers.map((s) => s.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
