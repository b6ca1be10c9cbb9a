import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as connectTo, createServer, type Server, type Socket } from 'node:net';
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
    // A replica that must resync in full starts at once rather than after 5 s (docs/operations.md):
    // with REDIS_MIN_REPLICAS_ACK, acceptance after a failover waits for it.
    const durable = ['--appendonly', 'yes', '--appendfsync', 'always', '--repl-diskless-sync-delay', '0'];
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
      // Online, not merely connected: a replica still waiting for its first sync has no copy yet.
      return (await client.info('replication')).split('\n').filter((line) => /^slave\d+:.*state=online/.test(line)).length;
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

/**
 * A TCP proxy in front of a sentinel. Once `holdLookups()` is called, it holds back the sentinel's
 * answers to "which is the primary?" until +switch-master has passed through it to a subscriber:
 * a connection that asks then is still asking when it learns of the failover, the window that a
 * busy process stays in for long.
 */
export class HeldLookupProxy {
  private holding = false;
  private readonly releases: (() => void)[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(sentinelPort: number): Promise<HeldLookupProxy> {
    const port = await sparePort();
    let proxy!: HeldLookupProxy;
    const server = createServer((client) => {
      const upstream = connectTo(sentinelPort, '127.0.0.1');
      let asksPrimary = false;
      const held: Buffer[] = [];
      proxy.sockets.add(client).add(upstream);
      client.on('data', (chunk) => {
        if (proxy.holding && chunk.includes('get-master-addr-by-name')) asksPrimary = true;
        upstream.write(chunk);
      });
      upstream.on('data', (chunk) => {
        if (chunk.includes('message') && chunk.includes('+switch-master')) proxy.release();
        if (asksPrimary && proxy.holding) held.push(chunk);
        else client.write(chunk);
      });
      proxy.releases.push(() => {
        if (held.length > 0 && !client.destroyed) client.write(Buffer.concat(held.splice(0)));
      });
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    proxy = new HeldLookupProxy(server, port);
    return proxy;
  }

  holdLookups(): void {
    this.holding = true;
  }

  private release(): void {
    if (!this.holding) return;
    this.holding = false;
    // After the subscriber has had the message, as when the answer is simply late.
    setTimeout(() => this.releases.forEach((release) => release()), 50);
  }

  async stop(): Promise<void> {
    this.sockets.forEach((socket) => socket.destroy());
    await new Promise((resolve) => this.server.close(resolve));
  }
}
