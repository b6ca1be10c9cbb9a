import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { waitFor } from './wait';

/** A port nothing listens on right now. */
export async function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A private redis-server on a spare port and a temp dir, for tests that break Redis on purpose;
 * the machine's shared Redis is never touched.
 */
export class TestRedis {
  private process?: ChildProcess;
  private readonly dir = mkdtempSync(path.join(tmpdir(), 'test-redis-'));

  private constructor(
    readonly port: number,
    private readonly extraArgs: string[] = [],
  ) {}

  static async start(extraArgs: string[] = []): Promise<TestRedis> {
    return TestRedis.startOn(await sparePort(), extraArgs);
  }

  static async startOn(port: number, extraArgs: string[] = []): Promise<TestRedis> {
    const redis = new TestRedis(port, extraArgs);
    await redis.restart();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async restart(): Promise<void> {
    this.process = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, ...this.extraArgs],
      {
        stdio: 'ignore',
      },
    );
    await waitFor('the test redis-server to answer', async () => {
      const client = new Redis(this.url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      client.on('error', () => undefined);
      const ok = await client
        .connect()
        .then(() => client.ping())
        .then(
          () => true,
          () => false,
        );
      client.disconnect();
      return ok;
    });
  }

  /** SIGSTOP / SIGCONT: a server that stalls (swapping, a long fork) and then carries on. */
  pause(): void {
    this.process?.kill('SIGSTOP');
  }

  resume(): void {
    this.process?.kill('SIGCONT');
  }

  /** SIGKILL: the server vanishes without a goodbye, as in a crash. */
  async kill(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGKILL');
    });
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
