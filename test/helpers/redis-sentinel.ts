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
 * 2 s), each its own process on a spare port, for failover tests.
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
        // Not 1 s: the sentinel pings once a second, and at 1 s it now and then took a primary it had
        // just promoted for down and failed over a second time.
        `sentinel down-after-milliseconds ${TestSentinelGroup.NAME} 2000`,
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

  /** A planned failover (SENTINEL FAILOVER): the old primary stays up, made a replica of the new. */
  async failover(): Promise<void> {
    const sentinel = new Redis(this.sentinelPort, '127.0.0.1', { lazyConnect: true });
    try {
      // NOGOODSLAVE until the sentinel has heard from a replica recently enough to trust it.
      await waitFor('the sentinel to start a failover', () =>
        sentinel.call('SENTINEL', 'failover', TestSentinelGroup.NAME).catch(() => undefined),
      );
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
 * A TCP proxy in front of a sentinel, to put a failover's messages in the order a test needs:
 * - `holdLookups()`: the sentinel's answers to "which is the primary?" are held back until
 *   +switch-master has passed through to a subscriber, so a connection that asks then is still
 *   asking when it learns of the failover (the window a busy process stays in for long);
 * - `holdSwitches()`: +switch-master messages are held back until `releaseSwitches()`, so the
 *   announcement can come after a connection has found the new primary by itself.
 */
export class SentinelProxy {
  private holdingLookups = false;
  private holdingSwitches = false;
  private readonly lookupReleases: (() => void)[] = [];
  private readonly heldSwitches: { client: Socket; chunk: Buffer }[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(sentinelPort: number): Promise<SentinelProxy> {
    const port = await sparePort();
    let proxy!: SentinelProxy;
    const server = createServer((client) => {
      const upstream = connectTo(sentinelPort, '127.0.0.1');
      let asksPrimary = false;
      const heldLookups: Buffer[] = [];
      proxy.sockets.add(client).add(upstream);
      client.on('data', (chunk) => {
        if (proxy.holdingLookups && chunk.includes('get-master-addr-by-name')) asksPrimary = true;
        upstream.write(chunk);
      });
      upstream.on('data', (chunk) => {
        const isSwitch = chunk.includes('message') && chunk.includes('+switch-master');
        if (isSwitch && proxy.holdingSwitches) return void proxy.heldSwitches.push({ client, chunk });
        if (isSwitch) proxy.releaseLookups();
        if (asksPrimary && proxy.holdingLookups) heldLookups.push(chunk);
        else client.write(chunk);
      });
      proxy.lookupReleases.push(() => {
        if (heldLookups.length > 0 && !client.destroyed) client.write(Buffer.concat(heldLookups.splice(0)));
      });
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    proxy = new SentinelProxy(server, port);
    return proxy;
  }

  holdLookups(): void {
    this.holdingLookups = true;
  }

  private releaseLookups(): void {
    if (!this.holdingLookups) return;
    this.holdingLookups = false;
    // After the subscriber has had the message, as when the answer is simply late.
    setTimeout(() => this.lookupReleases.forEach((release) => release()), 50);
  }

  holdSwitches(): void {
    this.holdingSwitches = true;
  }

  /** How many +switch-master messages are held back. */
  get switchesHeld(): number {
    return this.heldSwitches.length;
  }

  releaseSwitches(): void {
    this.holdingSwitches = false;
    for (const { client, chunk } of this.heldSwitches.splice(0)) {
      if (!client.destroyed) client.write(chunk);
    }
  }

  async stop(): Promise<void> {
    this.sockets.forEach((socket) => socket.destroy());
    await new Promise((resolve) => this.server.close(resolve));
  }
}
